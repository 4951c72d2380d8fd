import pytest

from kd_toolkit.export import Quantization
from kd_toolkit.export import get_quantization
from kd_toolkit.export import quantization_names


def test_names_round_trip_to_modes():
    assert quantization_names() == (
        "none",
        "float16",
        "dynamic_int8",
        "int8",
        "int8_float_io",
    )
    for name in quantization_names():
        assert get_quantization(name).value == name
    assert get_quantization(Quantization.INT8) is Quantization.INT8


def test_mode_properties():
    needs = {m for m in Quantization if m.needs_representative_data}
    assert needs == {Quantization.INT8, Quantization.INT8_FLOAT_IO}
    assert [m for m in Quantization if m.integer_io] == [Quantization.INT8]


@pytest.mark.parametrize("bad", ["INT8", "int4", "", None, 8])
def test_unknown_mode_lists_choices(bad):
    with pytest.raises(
        ValueError,
        match=r"Expected one of \['none', "
        r"'float16', 'dynamic_int8', 'int8', 'int8_float_io'"
        r"\]\. Received: quantization=",
    ):
        get_quantization(bad)
