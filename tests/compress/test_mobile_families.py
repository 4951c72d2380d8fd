"""keras.applications' mobile families through the bridge and tfmot."""

import keras
import pytest

from kd_toolkit.compress import qat
from kd_toolkit.compress import tf_keras_bridge as bridge

SHAPE = (32, 32, 3)


@pytest.mark.slow
@pytest.mark.parametrize(
    "family", ["MobileNet", "MobileNetV2", "MobileNetV3Large", "EfficientNetB0"]
)
def test_rebuilds_in_tf_keras_with_parity(family):
    model = getattr(keras.applications, family)(
        weights=None, input_shape=SHAPE, classes=10
    )
    legacy = bridge.to_tf_keras(model)  # raises beyond 1e-5
    assert len(legacy.layers) == len(
        [layer for layer in model.get_config()["layers"]]
    )


@pytest.mark.slow
def test_mobilenet_v3_small_goes_through_the_bridge_and_qat():
    """Rescaling, 9 `x + 3.0` and 9 `x * (1/6)` op nodes, 9 Multiply gates
    and 19 hard-swish activations: rebuilt in tf_keras with parity, back
    in Keras 3, and wrapped by tfmot's QAT (measured once outside the suite:
    50% pruning, a QAT epoch and the int8 LiteRT conversion all run)."""
    model = keras.applications.MobileNetV3Small(
        weights=None, input_shape=SHAPE, classes=10
    )
    legacy = bridge.to_tf_keras(model)
    kinds = [type(layer).__name__ for layer in legacy.layers]
    assert kinds.count("Rescaling") == 1 + 9 + 9
    assert kinds.count("Multiply") == 9
    hard_swish = [
        layer
        for layer in legacy.layers
        if getattr(layer, "activation", None) is not None
        and getattr(layer.activation, "__name__", "") == "hard_silu"
    ]
    assert len(hard_swish) == 19
    back = bridge.to_keras3(legacy)
    assert bridge.max_output_difference(model, back) <= 1e-5
    qat_model, _ = qat.quantize_model(model)
    assert any(
        "quant" in type(layer).__name__.lower() for layer in qat_model.layers
    )
