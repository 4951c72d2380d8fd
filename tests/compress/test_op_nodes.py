"""`keras.ops` calls in a functional graph go through the bridge."""

import keras
import numpy as np
import pytest
import tf_keras

from kd_toolkit.compress import UnsupportedLayerError
from kd_toolkit.compress import tf_keras_bridge as bridge

ATOL = 1e-5


@pytest.mark.parametrize(
    "fn, kind",
    [
        (lambda x: x + 3.0, "Rescaling"),
        (lambda x: 3.0 - x, "Rescaling"),
        (lambda x: x - 0.5, "Rescaling"),
        (lambda x: x * (1.0 / 6.0), "Rescaling"),
        (lambda x: x / 4.0, "Rescaling"),
        (lambda x: x + x * 2.0, "Add"),
        (lambda x: x * keras.layers.ReLU(6.0)(x + 3.0), "Multiply"),
    ],
)
def test_op_nodes_become_the_layer_that_computes_them(fn, kind):
    inputs = keras.Input((4, 4, 2))
    model = keras.Model(inputs, keras.layers.Flatten()(fn(inputs)))
    legacy = bridge.to_tf_keras(model)  # parity checked inside
    assert kind in [type(layer).__name__ for layer in legacy.layers]
    assert all(
        isinstance(layer, tf_keras.layers.Layer) for layer in legacy.layers
    )
    back = bridge.to_keras3(legacy)
    assert bridge.max_output_difference(model, back) <= ATOL


def test_rescaling_arguments_are_the_affine_map():
    inputs = keras.Input((3,))
    legacy = bridge.to_tf_keras(keras.Model(inputs, 3.0 - inputs))
    (rescaling,) = [
        layer
        for layer in legacy.layers
        if isinstance(layer, tf_keras.layers.Rescaling)
    ]
    assert (rescaling.scale, rescaling.offset) == (-1.0, 3.0)
    x = np.array([[0.0, 1.0, 5.0]], "float32")
    np.testing.assert_array_equal(legacy(x), [[3.0, 2.0, -2.0]])


def test_an_op_without_a_layer_is_named_as_an_op():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.ops.exp(inputs) + 1.0)
    with pytest.raises(
        UnsupportedLayerError,
        match=r"1 unsupported layer\(s\):\n  'exp' "
        r"\(keras\.ops\.exp\): keras\.ops\.exp\(tensor\) "
        "has no layer equivalent",
    ):
        bridge.to_tf_keras(model)
