"""A TensorFlow crash that narrow ResNets at 56 px and more run into.

With TensorFlow 2.21 on x86 CPUs, where its oneDNN kernels are on (the
default), the filter gradient of a 1x1 convolution with stride 2 whose
input has at most 8 channels and is at least 56 pixels high or wide
crashes the process (segmentation fault, "double free or corruption").
Measured on this project's machines with every oneDNN ISA level from AVX2
to AMX; the forward pass and the input gradient are fine, and so are 16
input channels or more, and inputs up to 54 pixels. Reproduced by:

```python
x = tf.random.uniform((2, 64, 64, 4))
w = tf.Variable(tf.random.normal((1, 1, 4, 8)))
with tf.GradientTape() as tape:
    loss = tf.reduce_sum(tf.nn.conv2d(x, w, 2, "SAME") ** 2)
tape.gradient(loss, w)  # segmentation fault
```

In the zoo this is the projection shortcut of a ResNet's second stage
when the first stage is 8 channels wide or less (`base_width <= 8`) and
the images are 56 px or more. Training such a model kills Python without
a traceback, so the builders warn when they make one: train with
`TF_ENABLE_ONEDNN_OPTS=0` (TensorFlow's own kernels, set before
TensorFlow is imported) or a `base_width` of 16 or more.
"""

import os
import warnings

import keras

MAX_CHANNELS = 8
MIN_PIXELS = 56


def onednn_enabled():
    """Whether TensorFlow's oneDNN kernels are on (its default on x86)."""
    flag = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip().lower()
    return flag not in ("0", "false", "off")


def crashing_convs(model):
    """Names of the `Conv2D` layers of `model` whose training would hit
    the crash of the module doc: 1x1 kernel, a stride above 1, at most
    `MAX_CHANNELS` input channels and an input side of `MIN_PIXELS` or
    more (unknown sides do not count)."""
    names = []
    for layer in model.layers:
        if type(layer) is not keras.layers.Conv2D:
            continue
        if tuple(layer.kernel_size) != (1, 1) or max(layer.strides) < 2:
            continue
        _, height, width, channels = layer.input.shape
        sides = [s for s in (height, width) if s is not None]
        if channels <= MAX_CHANNELS and sides and max(sides) >= MIN_PIXELS:
            names.append(layer.name)
    return names


def warn_if_training_would_crash(model):
    """Warns (naming the layers and the ways out) when `model` has
    `crashing_convs` and oneDNN is on; returns those layer names."""
    names = crashing_convs(model) if onednn_enabled() else []
    if names:
        warnings.warn(
            f"Training {model.name!r} will likely crash the process on this "
            f"CPU: its layers {names} are 1x1 convolutions with stride 2 on "
            f"at most {MAX_CHANNELS} channels of {MIN_PIXELS} px or more, "
            "whose filter gradient segfaults in TensorFlow's oneDNN kernels "
            "(see kd_toolkit.models.onednn_issue). Set "
            "TF_ENABLE_ONEDNN_OPTS=0 before TensorFlow is imported, or use "
            "base_width >= 16.",
            stacklevel=3,
        )
    return names
