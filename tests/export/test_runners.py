import numpy as np
from ai_edge_litert.interpreter import Interpreter

from kd_toolkit.export import KerasRunner
from kd_toolkit.export import LiteRTRunner
from kd_toolkit.export import OnnxRunner
from kd_toolkit.export import export_onnx
from kd_toolkit.export import export_tflite


def test_keras_runner_batches_and_single_call(tiny_model, tiny_data):
    x, _ = tiny_data
    runner = KerasRunner(tiny_model)
    expected = np.asarray(tiny_model(x, training=False))
    np.testing.assert_allclose(
        runner.predict(x, batch_size=10), expected, atol=1e-6
    )
    single = runner.single_call(x[:1])
    np.testing.assert_allclose(single(), expected[:1], atol=1e-6)


def test_int8_io_is_quantized_with_tensor_params(
    tiny_model, tiny_data, tmp_path
):
    x, _ = tiny_data
    path = export_tflite(tiny_model, tmp_path / "q.tflite", "int8", x, 32)
    runner = LiteRTRunner(path)
    # The same computation by hand in the raw interpreter.
    interpreter = Interpreter(model_path=str(path))
    interpreter.resize_tensor_input(0, [len(x), *x.shape[1:]])
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    in_scale, in_zero = inp["quantization"]
    out_scale, out_zero = out["quantization"]
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
    q = np.clip(np.round(x / in_scale + in_zero), -128, 127).astype(np.int8)
    interpreter.set_tensor(inp["index"], q)
    interpreter.invoke()
    raw = interpreter.get_tensor(out["index"]).astype(np.float32)
    by_hand = (raw - out_zero) * out_scale
    np.testing.assert_allclose(runner.predict(x), by_hand, atol=1e-6)
    # The single-image path agrees with the batched one.
    np.testing.assert_allclose(
        runner.single_call(x[:1])(), by_hand[:1], atol=1e-6
    )
    # The float-I/O twin computes the same integer graph.
    twin = LiteRTRunner(
        export_tflite(tiny_model, tmp_path / "f.tflite", "int8_float_io", x, 32)
    )
    np.testing.assert_allclose(twin.predict(x), by_hand, atol=out_scale * 1.01)


def test_onnx_runner_dtypes(tiny_model, tiny_data, tmp_path):
    x, _ = tiny_data
    runner = OnnxRunner(export_onnx(tiny_model, tmp_path / "m.onnx"))
    assert (runner.input_dtype, runner.output_dtype) == ("float32", "float32")
    assert runner.predict(x[:3]).shape == (3, 4)
