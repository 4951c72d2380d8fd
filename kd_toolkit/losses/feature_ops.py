"""Small tensor helpers shared by the feature-based losses."""

from keras import ops


def spatial_size(shape):
    """Returns `(height, width)` of a `(batch, h, w, c)` shape."""
    return int(shape[1]), int(shape[2])


def match_spatial(x, target_hw):
    """Resizes a `(batch, h, w, c)` tensor to `target_hw`.

    Integer down-scaling uses average pooling (exact block means); anything
    else uses bilinear resizing.
    """
    h, w = int(x.shape[1]), int(x.shape[2])
    th, tw = target_hw
    if (h, w) == (th, tw):
        return x
    if h % th == 0 and w % tw == 0:
        return ops.average_pool(
            x, pool_size=(h // th, w // tw), strides=(h // th, w // tw),
            padding="valid")
    return ops.image.resize(x, (th, tw), interpolation="bilinear")


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


def attention_distance(teacher_map, student_map, p=2):
    """Per-sample mean squared distance of normalized attention maps.

    Spatial sizes are matched by average-pooling the larger map's features
    to the smaller one before the attention is taken.
    """
    th, tw = spatial_size(teacher_map.shape)
    sh, sw = spatial_size(student_map.shape)
    target = (min(th, sh), min(tw, sw))
    t = attention_map(
        match_spatial(ops.cast(teacher_map, "float32"), target), p)
    s = attention_map(
        match_spatial(ops.cast(student_map, "float32"), target), p)
    return ops.mean(ops.square(s - t), axis=-1)
