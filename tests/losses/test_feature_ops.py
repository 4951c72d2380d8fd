"""Tests of the tensor helpers shared by the feature losses."""

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from kd_toolkit.losses.feature_ops import resize_nearest


@pytest.mark.parametrize(
    "size, target",
    [
        ((4, 4), (8, 8)),
        ((7, 7), (28, 28)),
        ((4, 6), (7, 9)),
        ((14, 14), (7, 7)),
    ],
)
def test_resize_nearest_matches_the_nearest_resize_and_its_gradient(
    size, target
):
    x = tf.constant(
        np.random.default_rng(0).normal(size=(2, *size, 3)), tf.float32
    )
    weights = tf.constant(
        np.random.default_rng(1).normal(size=(2, *target, 3)), tf.float32
    )
    grads = []
    for fn in (
        lambda t: resize_nearest(t, target),
        lambda t: ops.image.resize(t, target, interpolation="nearest"),
    ):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
            loss = tf.reduce_sum(y * weights)
        grads.append((y.numpy(), tape.gradient(loss, x).numpy()))
    (ours, our_grad), (keras_y, keras_grad) = grads
    np.testing.assert_array_equal(ours, keras_y)
    np.testing.assert_allclose(our_grad, keras_grad, rtol=1e-6, atol=1e-6)
    assert resize_nearest(x, size) is x
