"""Named layer constructors shared by the `kd_toolkit.models` builders.

They fix the initialisation and normalisation choices of the whole zoo in
one place:

- convolutions: no bias (a BatchNormalization follows), `he_normal` kernel
  initialiser, optional L2 kernel regulariser `weight_decay`;
- BatchNormalization: momentum 0.9 and epsilon 1e-5 (the PyTorch defaults
  used by the reference CIFAR implementations; momentum 0.9 also suits
  short training runs better than Keras's 0.99);
- the head: `GlobalAveragePooling2D` named `pool`, then `Dense` named
  `logits` (no softmax, float32 output even under a mixed-precision policy).

About `weight_decay`: it is an L2 coefficient added to the model's losses
(`model.losses`), i.e. `weight_decay * sum(w**2)` per kernel. SGD weight
decay `wd` (as in the reference repositories, `wd = 5e-4`) corresponds to
`weight_decay = wd / 2`. With Adam prefer `keras.optimizers.AdamW` and
leave `weight_decay = 0`.
"""

import keras

BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def _regularizer(weight_decay):
    return keras.regularizers.L2(weight_decay) if weight_decay else None


def image_input(input_shape):
    """The model input, named `input`."""
    return keras.Input(shape=input_shape, name="input")


def conv(filters, kernel_size, strides, name, weight_decay):
    """A bias-free `Conv2D` with "same" padding and `he_normal` init."""
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        kernel_regularizer=_regularizer(weight_decay),
        name=name,
    )


def depthwise_conv(strides, name, weight_decay):
    """A bias-free 3x3 `DepthwiseConv2D` with "same" padding."""
    return keras.layers.DepthwiseConv2D(
        3,
        strides=strides,
        padding="same",
        use_bias=False,
        depthwise_initializer="he_normal",
        depthwise_regularizer=_regularizer(weight_decay),
        name=name,
    )


def batch_norm(name):
    """`BatchNormalization` with momentum 0.9 and epsilon 1e-5."""
    return keras.layers.BatchNormalization(
        momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name
    )


def relu(name):
    """A named `ReLU` layer."""
    return keras.layers.ReLU(name=name)


def identity(name):
    """A named `Identity` layer: a stable tap point that computes nothing."""
    return keras.layers.Identity(name=name)


def classifier_head(x, num_classes, weight_decay):
    """Global average pooling (`pool`) then a `Dense` (`logits`).

    The logits layer uses `glorot_uniform` (small initial logits) and a
    float32 dtype so that losses see float32 logits under mixed precision.
    """
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.layers.Dense(
        num_classes,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=_regularizer(weight_decay),
        dtype="float32",
        name="logits",
    )(x)
