import pytest

from kd_toolkit.adaptation import Replacement


def test_defaults_and_adapter_name():
    rep = Replacement("a", "b", student_layer="s")
    assert rep.adapter_name == "b_adapter"
    assert (rep.kind, rep.kernel_size, rep.final_relu) == ("separable", 3, None)
    assert Replacement("a", "b", name="ad").adapter_name == "ad"


def test_config_round_trip():
    rep = Replacement(
        "a", "b", "s", kind="conv", kernel_size=5, final_relu=False, name="ad"
    )
    assert Replacement.from_config(rep.get_config()) == rep


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(start="", end="b"), "start"),
        (dict(start="a", end="a"), "different"),
        (dict(start="a", end="b", student_layer=""), "student_layer"),
        (dict(start="a", end="b", kind="mlp"), r"\['separable', 'conv'\]"),
        (dict(start="a", end="b", kernel_size=0), "kernel_size"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Replacement(**kwargs)


def test_layer_name_of_the_wrong_type():
    with pytest.raises(TypeError, match="Received: end=None"):
        Replacement("a", None)


def test_final_relu_type():
    with pytest.raises(TypeError, match="final_relu"):
        Replacement("a", "b", final_relu=1)
