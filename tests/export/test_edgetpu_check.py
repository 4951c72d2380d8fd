import keras
import numpy as np

from kd_toolkit.export import convert_to_tflite
from kd_toolkit.export.edgetpu_check import EDGETPU_OPS
from kd_toolkit.export.edgetpu_check import edgetpu_check


def test_first_unsupported_operator_is_named(tmp_path):
    """Hard-swish has an int8 LiteRT kernel but is not in the Edge TPU's
    supported list."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = keras.layers.Activation("hard_silu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    samples = np.random.default_rng(0).random((20, 8, 8, 1), "float32")
    path = tmp_path / "model.tflite"
    path.write_bytes(convert_to_tflite(model, "int8", samples))
    check = edgetpu_check(path)
    assert "HARD_SWISH" not in EDGETPU_OPS
    assert check.first_unsupported_op == "HARD_SWISH"
    assert check.problems[0].startswith("operator HARD_SWISH (operator 2 of")
    # kd_toolkit's converter keeps the batch dimension dynamic.
    assert any("dynamic size" in p for p in check.problems)
    assert check.note.startswith("static check only")
