import pytest

from kd_toolkit.export import ArtifactFormat
from kd_toolkit.export import Quantization
from kd_toolkit.export import Runtime
from kd_toolkit.export import format_names
from kd_toolkit.export import get_format
from kd_toolkit.export import parse_formats


def test_every_format_has_runtime_and_suffix():
    assert set(format_names()) == {
        "tflite_float32",
        "tflite_float16",
        "tflite_dynamic_int8",
        "tflite_int8",
        "tflite_int8_float_io",
        "onnx",
    }
    for name in format_names():
        fmt = get_format(name)
        expected = ".onnx" if name == "onnx" else ".tflite"
        assert fmt.suffix == expected
        assert (fmt.runtime is Runtime.ONNXRUNTIME) == (name == "onnx")
    assert get_format("tflite_int8").quantization is Quantization.INT8


def test_filename_and_frozen():
    fmt = get_format("tflite_float16")
    assert fmt.filename("student") == "student_tflite_float16.tflite"
    with pytest.raises(AttributeError):
        fmt.name = "other"
    assert isinstance(fmt, ArtifactFormat)


def test_parse_string_and_sequence():
    parsed = parse_formats(" tflite_int8, onnx ,")
    assert [f.name for f in parsed] == ["tflite_int8", "onnx"]
    assert parse_formats(["onnx"]) == (get_format("onnx"),)


@pytest.mark.parametrize(
    "formats, match",
    [
        (
            "tflite_int4",
            r"Expected one of \['tflite_float32', .*'onnx'\]\. "
            r"Received: formats='tflite_int4'",
        ),
        ("", r"at least one format .* Received: formats=''"),
        ("onnx,onnx", r"\['onnx'\] more than once"),
    ],
)
def test_bad_formats(formats, match):
    with pytest.raises(ValueError, match=match):
        parse_formats(formats)
