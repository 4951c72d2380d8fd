"""Tests for kd_toolkit.models.zoo (`get`, `names`)."""

import pytest

from kd_toolkit import models
from tests.models import model_checks

ALL_NAMES = [
    "mobilenet_tiny",
    "resnet110",
    "resnet14",
    "resnet20",
    "resnet32",
    "resnet32x4",
    "resnet44",
    "resnet56",
    "resnet8",
    "resnet8x4",
    "simple_cnn",
    "wrn_16_1",
    "wrn_16_2",
    "wrn_16_4",
    "wrn_40_1",
    "wrn_40_2",
]


def test_names_is_sorted_and_complete():
    assert models.names() == ALL_NAMES


# The deepest/widest models are built at 32x32x3 by the published
# parameter-count tests of test_resnet.py; here only at 28x28x1.
_ONE_SHAPE = ("resnet110", "resnet32x4")


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_name_builds_at_both_shapes_with_contract_layers(name):
    shapes = (((28, 28, 1), 10), ((32, 32, 3), 7))
    if name in _ONE_SHAPE:
        shapes = shapes[:1]
    for input_shape, classes in shapes:
        model = models.get(name, input_shape=input_shape, num_classes=classes)
        assert model.name == name
        x = model_checks.random_images(input_shape)
        assert tuple(model(x, training=False).shape) == (2, classes)
        logits = model.get_layer("logits")
        assert model.output is logits.output
        assert logits.get_config()["activation"] == "linear"
        stages = models.stage_output_names(model)
        assert stages[:2] == ["stage1_out", "stage2_out"]
        for layer in ("pool", "logits", *stages):
            model.get_layer(layer)
        if name != "simple_cnn":
            model.get_layer("stem_out")
            model.get_layer("stage3_block1_out")


def test_default_input_shapes():
    assert models.get("simple_cnn").input_shape == (None, 28, 28, 1)
    assert models.get("resnet8").input_shape == (None, 32, 32, 3)


def test_options_reach_the_builder():
    model = models.get("resnet8", input_shape=(28, 28, 1), base_width=8)
    assert model.get_layer("stage3_out").output.shape[-1] == 32
    model = models.get("wrn_16_1", dropout=0.1)
    model.get_layer("stage1_block1_dropout")
    model = models.get("simple_cnn", filters=(4,))
    assert models.stage_output_names(model) == ["stage1_out"]


def test_unknown_name_lists_close_matches_and_valid_names():
    with pytest.raises(
        ValueError,
        match=(
            r"Unknown model name\. Did you mean \[.*'wrn_16_2'.*\]\? "
            r"Expected one of \[.*'wrn_40_2'.*\]\. "
            r"Received: name='wrn_16_3'"
        ),
    ):
        models.get("wrn_16_3")


def test_option_of_another_family_is_refused():
    with pytest.raises(
        ValueError,
        match=(
            r"'resnet20' does not take the option\(s\) \['dropout'\]\. "
            r"Valid options: \['base_width', 'weight_decay'\]"
        ),
    ):
        models.get("resnet20", dropout=0.3)


def test_bad_values_reach_the_user():
    with pytest.raises(ValueError, match="Received: num_classes=1"):
        models.get("wrn_16_2", num_classes=1)
    with pytest.raises(ValueError, match="rank-3"):
        models.get("simple_cnn", input_shape=(28, 28))
