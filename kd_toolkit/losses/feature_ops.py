"""Small tensor helpers and the connector shared by the feature losses."""

import keras
import numpy as np
from keras import layers
from keras import ops


def spatial_size(shape):
    """Returns `(height, width)` of a `(batch, h, w, c)` shape."""
    return int(shape[1]), int(shape[2])


def match_spatial(x, target_hw):
    """Resizes a `(batch, h, w, c)` tensor to `target_hw` by adaptive
    average pooling (`adaptive_average_pool`), as the reference
    implementations of attention transfer and ReviewKD do: exact block
    means when the sizes divide, overlapping bins when they do not.
    """
    h, w = int(x.shape[1]), int(x.shape[2])
    th, tw = target_hw
    if (h, w) == (th, tw):
        return x
    if h % th == 0 and w % tw == 0:
        return ops.average_pool(
            x,
            pool_size=(h // th, w // tw),
            strides=(h // th, w // tw),
            padding="valid",
        )
    return adaptive_average_pool(x, target_hw)


def adaptive_average_pool(x, size):
    """Adaptive average pooling of `x` `(batch, h, w, c)` to `size`
    `(rows, cols)`, PyTorch's `adaptive_avg_pool2d`: output row `i`
    averages input rows `floor(i·h/rows)` to `ceil((i+1)·h/rows) − 1` (and
    the same for columns), so the bins overlap when `rows` does not divide
    `h`, and repeat rows when `rows > h`. Written as two averaging
    matrices, which every backend differentiates (TensorFlow's area resize
    has no gradient)."""
    h, w = spatial_size(x.shape)
    rows, cols = _bin_matrix(h, size[0]), _bin_matrix(w, size[1])
    return ops.einsum("ih,jw,bhwc->bijc", rows, cols, x)


def _bin_matrix(length, size):
    """`(size, length)` float32 matrix averaging each adaptive bin."""
    matrix = np.zeros((size, length), dtype="float32")
    for i in range(size):
        start = (i * length) // size
        end = -(-((i + 1) * length) // size)
        matrix[i, start:end] = 1.0 / (end - start)
    return ops.convert_to_tensor(matrix)


def resize_nearest(x, size):
    """Nearest-neighbour resize of a `(batch, h, w, c)` tensor to `size`.

    The same values as `ops.image.resize(x, size, interpolation="nearest")`
    (half-pixel centres: output row `i` reads input row
    `floor((i + 0.5) · h / size[0])`), written as two gathers, whose
    gradient XLA compiles on every device; TensorFlow's nearest-neighbour
    resize gradient has no XLA kernel on CPU.
    """
    h, w = spatial_size(x.shape)
    th, tw = size
    if (h, w) == (th, tw):
        return x
    rows = np.minimum(((np.arange(th) + 0.5) * h / th).astype("int32"), h - 1)
    cols = np.minimum(((np.arange(tw) + 0.5) * w / tw).astype("int32"), w - 1)
    return ops.take(ops.take(x, rows, axis=1), cols, axis=2)


def attention_map(x, p=2):
    """Normalized spatial attention `vec(mean_c |x|^p) / ‖·‖₂`, float32.

    Args:
        x: `(batch, h, w, c)` activation.
        p: exponent.

    Returns:
        `(batch, h·w)` float32 tensor with unit L2 norm per row.
    """
    x = ops.cast(x, "float32")
    a = ops.mean(ops.power(ops.abs(x), p), axis=-1)
    a = ops.reshape(a, (-1, int(x.shape[1]) * int(x.shape[2])))
    norm = ops.sqrt(ops.sum(ops.square(a), axis=-1, keepdims=True))
    return a / ops.maximum(norm, 1e-12)


def matched_attention_maps(teacher_map, student_map, p=2):
    """Attention maps of two activations at their common spatial size.

    The larger map's features are average-pooled to the smaller one's
    size (`match_spatial`) before the attention is taken.

    Returns:
        `(teacher attention, student attention)`, each `(batch, h·w)`.
    """
    th, tw = spatial_size(teacher_map.shape)
    sh, sw = spatial_size(student_map.shape)
    target = (min(th, sh), min(tw, sw))
    return tuple(
        attention_map(match_spatial(ops.cast(m, "float32"), target), p)
        for m in (teacher_map, student_map)
    )


def attention_distance(teacher_map, student_map, p=2):
    """Per-sample mean squared distance of normalized attention maps
    (`matched_attention_maps`)."""
    t, s = matched_attention_maps(teacher_map, student_map, p)
    return ops.mean(ops.square(s - t), axis=-1)


def conv_connector(teacher_shape, student_shape, name="connector"):
    """The FitNets connector from a student map to a teacher map's channels.

    A 1×1 convolution followed by batch normalization, strided when the
    student map is an integer multiple of the teacher's; any remaining size
    difference is left to `match_spatial` (adaptive average pooling) at the
    returned size.

    Args:
        teacher_shape: `(batch, h, w, c)` of the teacher map.
        student_shape: `(batch, h, w, c)` of the student map.
        name: name of the connector model.

    Returns:
        `(connector, target_hw)`: a built `keras.Sequential` and the
        spatial size both maps are compared at.
    """
    th, tw = spatial_size(teacher_shape)
    sh, sw = spatial_size(student_shape)
    stride = 1
    if sh > th and sh % th == 0 and sw % tw == 0 and sh // th == sw // tw:
        stride = sh // th
    connector = keras.Sequential(
        [
            layers.Conv2D(
                teacher_shape[-1],
                1,
                strides=stride,
                use_bias=False,
                name="connector_conv",
            ),
            layers.BatchNormalization(name="connector_bn"),
        ],
        name=name,
    )
    connector.build(tuple(student_shape))
    return connector, (min(th, sh // stride), min(tw, sw // stride))
