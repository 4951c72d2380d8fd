"""Small models and data shared by the compression tests."""

import keras
import numpy as np
import tensorflow as tf


def randomize_weights(model, seed=0):
    """Random weights everywhere, at scales that keep activations moderate.

    Fresh BatchNormalization layers have mean 0 / variance 1, so a bridge
    that dropped them would still look right; random statistics make parity
    meaningful. Kernels are drawn with variance `1 / fan_in` so that deep
    models (resnet110) keep finite, moderate logits.
    """
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = []
        for variable in layer.weights:
            shape = tuple(variable.shape)
            name = variable.name
            if "variance" in name or "gamma" in name:
                value = rng.uniform(0.8, 1.2, shape)
            elif "kernel" in name:
                fan_in = max(1, int(np.prod(shape[:-1])))
                value = rng.standard_normal(shape) / np.sqrt(fan_in)
            else:
                value = 0.1 * rng.standard_normal(shape)
            values.append(value.astype("float32"))
        if values:
            layer.set_weights(values)
    return model


def kitchen_sink_model():
    """A Keras 3 functional model using every supported layer type."""
    layers = keras.layers
    inputs = keras.Input((12, 12, 1), name="input")
    x = layers.ZeroPadding2D(1, name="pad")(inputs)
    x = layers.Conv2D(
        8,
        3,
        use_bias=False,
        name="conv",
        kernel_regularizer=keras.regularizers.L2(1e-4),
    )(x)
    x = layers.BatchNormalization(name="bn")(x)
    y = layers.ReLU(max_value=6.0, name="relu6")(x)
    x = layers.Add(name="add")([x, y])
    x = layers.Identity(name="tap")(x)
    a = layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    b = layers.SeparableConv2D(
        8, 3, padding="same", activation="relu", name="sep"
    )(x)
    x = layers.Concatenate(name="cat")([a, b])
    x = layers.MaxPooling2D(name="max_pool")(x)
    x = layers.AveragePooling2D(2, name="avg_pool")(x)
    x = layers.Activation("swish", name="swish")(x)
    gap = layers.GlobalAveragePooling2D(name="gap")(x)
    gmp = layers.GlobalMaxPooling2D(name="gmp")(x)
    flat = layers.Flatten(name="flat")(
        layers.Reshape((3 * 3 * 16,), name="reshape")(x)
    )
    x = layers.Concatenate(name="features")([gap, gmp, flat])
    x = layers.Dropout(0.3, name="dropout")(x)
    x = layers.Dense(5, dtype="float32", name="logits")(x)
    probs = layers.Softmax(name="probs")(x)
    return keras.Model(inputs, [x, probs], name="kitchen_sink")


def tiny_cnn(input_shape=(8, 8, 1), num_classes=4, name="tiny_cnn"):
    """conv-BN-ReLU, conv-BN-ReLU + residual, pool, dense: fast to train."""
    layers = keras.layers
    inputs = keras.Input(input_shape, name="input")
    x = layers.Conv2D(8, 3, padding="same", use_bias=False, name="conv1")(
        inputs
    )
    x = layers.BatchNormalization(name="bn1")(x)
    x = layers.ReLU(name="relu1")(x)
    y = layers.Conv2D(8, 3, padding="same", use_bias=False, name="conv2")(x)
    y = layers.BatchNormalization(name="bn2")(y)
    x = layers.ReLU(name="out")(layers.Add(name="add")([x, y]))
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def learnable_dataset(
    n=256, shape=(8, 8, 1), num_classes=4, batch_size=32, seed=0
):
    """Images whose class is the brightest quadrant: learnable in a few steps.

    Returns:
        `(tf.data.Dataset of (x, y) batches, x, y)`.
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 0.3, size=(n,) + shape).astype("float32")
    y = rng.integers(0, num_classes, n).astype("int32")
    h, w = shape[0] // 2, shape[1] // 2
    for i, label in enumerate(y):
        r, c = divmod(int(label) % 4, 2)
        x[i, r * h : (r + 1) * h, c * w : (c + 1) * w] += 0.6
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
    return dataset, x, y
