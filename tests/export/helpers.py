"""Small models and data shared by the export tests."""

import keras
import numpy as np

TINY_SHAPE = (8, 8, 1)
TINY_CLASSES = 4
# A student whose weights dominate its file size, so the design's size
# bounds (float16 <= 0.55x, int8 <= 0.30x float32) are meaningful for it.
REAL_FILTERS = (32, 64, 128)
REAL_TRAIN_IMAGES = 4000
REAL_EVAL_IMAGES = 3000
REAL_REPRESENTATIVE = 100


def tiny_cnn(name="tiny"):
    """An untrained conv-BN-ReLU-pool-dense model on 8x8x1 inputs."""
    inputs = keras.Input(TINY_SHAPE)
    x = keras.layers.Conv2D(8, 3, padding="same")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(TINY_CLASSES)(x)
    return keras.Model(inputs, outputs, name=name)


def flex_model():
    """A model whose cumulative product has no LiteRT builtin kernel."""
    inputs = keras.Input((4,))
    x = keras.ops.cumprod(inputs, axis=1)
    outputs = keras.layers.Dense(3)(x)
    return keras.Model(inputs, outputs, name="needs_flex")


def tiny_data(n=64, seed=0):
    """Uniform [0, 1] images for `tiny_cnn` and random labels."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, *TINY_SHAPE)).astype(np.float32)
    y = rng.integers(0, TINY_CLASSES, size=n)
    return x, y
