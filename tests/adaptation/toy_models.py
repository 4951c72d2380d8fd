"""Tiny functional teachers and students for the adaptation tests."""

import keras
import numpy as np
from keras import layers

EPS = 1e-5


def conv_bn_relu(x, filters, strides, name, relu=True):
    """A conv-BN(-ReLU) block with stable names."""
    x = layers.Conv2D(
        filters,
        3,
        strides=strides,
        padding="same",
        use_bias=False,
        name=f"{name}_conv",
    )(x)
    x = layers.BatchNormalization(epsilon=EPS, name=f"{name}_bn")(x)
    if relu:
        x = layers.ReLU(name=f"{name}_out")(x)
    return x


def residual_block(x, filters, strides, name):
    """A basic residual block; its output ReLU `{name}_out` is a cut."""
    y = conv_bn_relu(x, filters, strides, f"{name}_a")
    y = conv_bn_relu(y, filters, 1, f"{name}_b", relu=False)
    if strides != 1 or x.shape[-1] != filters:
        x = layers.Conv2D(
            filters, 1, strides=strides, use_bias=False, name=f"{name}_proj"
        )(x)
    y = layers.Add(name=f"{name}_add")([x, y])
    return layers.ReLU(name=f"{name}_out")(y)


def tiny_resnet(
    name="teacher", shape=(8, 8, 1), width=8, classes=3, dropout=0.0
):
    """stem (cut `stem_out`) -> 3 residual blocks -> pool -> logits."""
    inputs = keras.Input(shape, name="image")
    x = conv_bn_relu(inputs, width, 1, "stem")
    x = residual_block(x, width, 1, "block1")
    x = residual_block(x, 2 * width, 2, "block2")
    x = residual_block(x, 2 * width, 1, "block3")
    x = layers.Identity(name="features")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def randomize_bn(model, seed=0):
    """Gives every BatchNormalization non-trivial statistics."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, c),
                    rng.normal(0, 0.1, c),
                    rng.normal(0, 0.1, c),
                    rng.uniform(0.5, 1.5, c),
                ]
            )
    return model


def toy_data(n=64, shape=(8, 8, 1), classes=3, seed=0):
    """Images whose mean encodes the class, and integer labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.normal(size=(n,) + shape).astype("float32")
    x += y.reshape((n,) + (1,) * len(shape)).astype("float32")
    return x, y
