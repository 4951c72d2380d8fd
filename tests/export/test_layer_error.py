import keras
import numpy as np
from keras import layers

from kd_toolkit.export import layer_errors
from kd_toolkit.export.layer_error import worst
from kd_toolkit.export.tflite_export import convert_to_tflite


def _model_with_a_badly_quantized_layer():
    """`bad` has a huge activation range on the calibration data (unit 7 =
    1000 × feature 15) and small outputs elsewhere; the evaluation data
    never has feature 15, so there its outputs fall far below one
    quantization step. The logits carry a large bias, so their error stays
    small relative to their values."""
    x = keras.Input((16,))
    ok = layers.Dense(8, activation="relu", name="ok")(x)
    bad = layers.Dense(8, name="bad")(ok)
    model = keras.Model(x, layers.Dense(3, name="logits")(bad))
    w_ok = np.zeros((16, 8), "float32")
    w_ok[np.arange(7), np.arange(7)] = 1.0
    w_ok[15, 7] = 1.0
    w_bad = np.eye(8, dtype="float32") * 0.01
    w_bad[7, 7] = 1000.0
    model.get_layer("ok").set_weights([w_ok, np.zeros(8, "float32")])
    model.get_layer("bad").set_weights([w_bad, np.zeros(8, "float32")])
    model.get_layer("logits").set_weights(
        [np.full((8, 3), 0.1, "float32"), np.array([5, -5, 3], "float32")]
    )
    return model


def test_finds_the_badly_quantized_layer():
    model = _model_with_a_badly_quantized_layer()
    rng = np.random.default_rng(0)
    calibration = rng.random((100, 16)).astype("float32")
    evaluation = rng.random((20, 16)).astype("float32")
    evaluation[:, 15] = 0.0
    quantized = convert_to_tflite(
        model, "int8", representative_data=calibration
    )
    errors = layer_errors(
        quantized, convert_to_tflite(model, "none"), evaluation
    )
    assert [e.position for e in errors] == [0, 1, 2]
    first = worst(errors)[0]
    assert "bad" in first.tensor and first.op == "FULLY_CONNECTED"
    # Its outputs (about 0.01) sit below one step (about 4): nothing left.
    assert first.snr_db < 3.0
    ok = next(e for e in errors if "ok" in e.tensor)
    assert ok.snr_db > 30.0 and ok.cosine > 0.999


def test_identical_models_have_no_error():
    model = _model_with_a_badly_quantized_layer()
    x = np.random.default_rng(1).random((4, 16)).astype("float32")
    content = convert_to_tflite(model, "none")
    errors = layer_errors(content, content, x)
    assert all(
        e.snr_db == float("inf") and e.relative_error == 0.0 for e in errors
    )
    assert errors[0].to_dict()["snr_db"] is None
    np.testing.assert_allclose([e.cosine for e in errors], 1.0, rtol=1e-6)
