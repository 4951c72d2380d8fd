"""A small teacher and images shared by the teacher-output cache tests."""

import keras
import numpy as np
from keras import layers

from kd_toolkit.data.catalog import AugmentSpec

SPEC = AugmentSpec(pad=2, flip=True)


def net(name, filters, classes=3):
    """conv -> `feat` (ReLU) -> `pool` (the embedding) -> `logits`."""
    inputs = keras.Input((8, 8, 1))
    x = layers.Conv2D(filters, 3, padding="same", name="conv")(inputs)
    x = layers.ReLU(name="feat")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(
        inputs, layers.Dense(classes, name="logits")(x), name=name
    )


def images(n=40, seed=0):
    """`(x, y)`: `n` images of 8×8×1 and labels in [0, 3)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 8, 8, 1), dtype=np.float32)
    # Asymmetric images, so that crops and flips change the teacher output.
    x[:, :, :3] += 1.0
    return x, rng.integers(0, 3, n)
