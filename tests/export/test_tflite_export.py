import numpy as np
import pytest

from kd_toolkit.export import LiteRTRunner
from kd_toolkit.export import UnsupportedOpsError
from kd_toolkit.export import constant_tensors
from kd_toolkit.export import convert_to_tflite
from kd_toolkit.export import export_tflite
from kd_toolkit.export import non_builtin_ops
from kd_toolkit.export import operator_names
from tests.export import helpers


def test_float32_matches_keras_in_litert(tiny_model, tiny_data, tmp_path):
    x, _ = tiny_data
    path = export_tflite(tiny_model, tmp_path / "m.tflite")
    runner = LiteRTRunner(path)
    outputs = runner.predict(x, batch_size=24)  # Exercises a padded batch.
    expected = np.asarray(tiny_model(x, training=False))
    np.testing.assert_allclose(outputs, expected, atol=1e-5)
    assert runner.input_dtype == runner.output_dtype == "float32"
    assert "CONV_2D" in operator_names(path.read_bytes())
    assert non_builtin_ops(path.read_bytes()) == ()


@pytest.mark.parametrize(
    "quantization, weight_dtype, io_dtype",
    [
        ("float16", "FLOAT16", "float32"),
        ("dynamic_int8", "INT8", "float32"),
        ("int8", "INT8", "int8"),
        ("int8_float_io", "INT8", "float32"),
    ],
)
def test_quantized_tensors(
    tiny_model, tiny_data, tmp_path, quantization, weight_dtype, io_dtype
):
    x, _ = tiny_data
    path = export_tflite(
        tiny_model,
        tmp_path / "m.tflite",
        quantization,
        representative_data=x,
        representative_samples=32,
    )
    content = path.read_bytes()
    tensors = constant_tensors(content)
    # The largest weight (the 3x3x8x16 conv kernel) is stored quantized.
    # Dynamic-range quantization keeps tensors under 1024 elements in
    # float32; full-integer quantization quantizes every conv kernel.
    largest = max(tensors, key=lambda t: t.num_bytes)
    assert largest.dtype == weight_dtype, tensors
    if quantization == "float16":
        assert "FLOAT32" not in {t.dtype for t in tensors}, tensors
    if quantization in ("int8", "int8_float_io"):
        kernels = {t.dtype for t in tensors if len(t.shape) >= 2}
        biases = {t.dtype for t in tensors if len(t.shape) == 1}
        assert kernels == {"INT8"} and biases <= {"INT32"}, tensors
    runner = LiteRTRunner(path)
    assert (runner.input_dtype, runner.output_dtype) == (io_dtype, io_dtype)
    outputs = runner.predict(x)
    expected = np.asarray(tiny_model(x, training=False))
    cosine = np.sum(outputs * expected) / (
        np.linalg.norm(outputs) * np.linalg.norm(expected)
    )
    assert cosine > 0.99
    assert len(content) < len(convert_to_tflite(tiny_model))


def test_full_integer_ops_are_int8(tiny_model, tiny_data, tmp_path):
    x, _ = tiny_data
    path = export_tflite(tiny_model, tmp_path / "m.tflite", "int8", x, 16)
    runner = LiteRTRunner(path)
    dtypes = {d["name"]: d["dtype"].__name__ for d in runner.tensor_details()}
    floats = [name for name, dtype in dtypes.items() if dtype == "float32"]
    assert floats == [], floats  # Integer-only: no float tensor at all.


def test_int8_needs_representative_data(tiny_model):
    with pytest.raises(
        ValueError,
        match=r"quantization='int8' .* needs "
        r"`representative_data`.*Received: "
        r"representative_data=None",
    ):
        convert_to_tflite(tiny_model, "int8")


def test_wrong_shaped_representative_data(tiny_model):
    images = np.zeros((4, 28, 28, 1), np.float32)
    with pytest.raises(ValueError, match=r"expected shape \(batch, 8, 8, 1\)"):
        convert_to_tflite(tiny_model, "int8_float_io", images)


def test_unknown_quantization(tiny_model):
    with pytest.raises(
        ValueError,
        match=r"Expected one of \['none', .*\]\. "
        r"Received: quantization='int16'",
    ):
        convert_to_tflite(tiny_model, "int16")


def test_select_tf_ops_need_opt_in(tmp_path):
    model = helpers.flex_model()
    with pytest.raises(
        UnsupportedOpsError,
        match=r"not LiteRT builtins: "
        r"\['tf.Cumprod'\]\. Pass allow_select_tf_ops=True",
    ) as info:
        export_tflite(model, tmp_path / "flex.tflite")
    assert info.value.flex_ops == ("tf.Cumprod",)
    assert not (tmp_path / "flex.tflite").exists()
    path = export_tflite(
        model, tmp_path / "flex.tflite", allow_select_tf_ops=True
    )
    assert non_builtin_ops(path.read_bytes()) == ("FlexCumprod",)


def test_output_path_errors(tiny_model, tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory"):
        export_tflite(tiny_model, tmp_path)
    existing = tmp_path / "m.tflite"
    existing.write_bytes(b"keep")
    with pytest.raises(FileExistsError, match=r"m\.tflite"):
        export_tflite(tiny_model, existing)
    assert existing.read_bytes() == b"keep"


def test_multi_input_model_is_rejected():
    import keras

    a, b = keras.Input((2,)), keras.Input((2,))
    model = keras.Model([a, b], keras.layers.Add()([a, b]))
    with pytest.raises(
        ValueError,
        match=r"single-input models\. Received: "
        r"a model with 2 inputs",
    ):
        convert_to_tflite(model)
