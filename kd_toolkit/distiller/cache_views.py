"""The augmented views of a sharded teacher-output cache, as functions of
`(seed, id, draw)` alone.

For each training example (a stable integer id in its source) and draw,
the view's parameters, pad-crop offsets and a flip or a random-resized-crop
box and a flip, come from a counter-based hash of `(seed, id, draw)`, so
they do not depend on the shard size, the number of build workers or the
order of the build. The same TensorFlow ops make a view from its
parameters at build time (the teacher sees it) and at training time (the
student sees it), so the two are the same image, bit for bit.
"""

import numpy as np
import tensorflow as tf

from kd_toolkit.data import batching

__all__ = [
    "make_views",
    "resized_crop_boxes",
    "uniforms",
    "view_parameters",
    "view_params",
]


def uniforms(seed, ids, draws, count):
    """float64 `(n, draws, count)` numbers in [0, 1) from a splitmix64 hash
    of `(seed, id, draw, j)`: the same for an id whatever the shard or the
    order of the build."""
    ids = np.asarray(ids, np.uint64)[:, None, None]
    draw = np.arange(draws, dtype=np.uint64)[None, :, None]
    j = np.arange(count, dtype=np.uint64)[None, None, :]
    with np.errstate(over="ignore"):
        x = (
            np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
            + ids * np.uint64(0xBF58476D1CE4E5B9)
            + draw * np.uint64(0x94D049BB133111EB)
            + j * np.uint64(0xD6E8FEB86659FD93)
            + np.uint64(0x2545F4914F6CDD1D)
        )
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def view_params(seed, ids, draws, pad, flip):
    """Pad-crop-flip views of every `(id, draw)`: int32 `(n, draws)` rows
    and columns in `[0, 2 * pad]` and bool flips."""
    u = uniforms(seed, ids, draws, 3)
    span = 2 * pad + 1
    rows = np.floor(u[..., 0] * span).astype(np.int32)
    cols = np.floor(u[..., 1] * span).astype(np.int32)
    return rows, cols, (u[..., 2] < 0.5) & bool(flip)


def resized_crop_boxes(seed, ids, draws, spec, height, width):
    """Random-resized-crop views of every `(id, draw)` (`ResizedCropSpec`):
    float32 boxes `(n, draws, 4)` as `tf.image.crop_and_resize` takes them
    (`y1, x1, y2, x2`, the pixel grid's corners at 0 and 1) and bool flips.
    """
    u = uniforms(seed, ids, draws, 5)
    lo, hi = spec["scale"]
    r_lo, r_hi = np.log(spec["ratio"][0]), np.log(spec["ratio"][1])
    area = (lo + u[..., 0] * (hi - lo)) * height * width
    ratio = np.exp(r_lo + u[..., 1] * (r_hi - r_lo))
    w = np.clip(np.round(np.sqrt(area * ratio)), 1, width)
    h = np.clip(np.round(np.sqrt(area / ratio)), 1, height)
    top = np.floor(u[..., 2] * (height - h + 1))
    left = np.floor(u[..., 3] * (width - w + 1))
    dy, dx = max(height - 1, 1), max(width - 1, 1)
    boxes = np.stack(
        [top / dy, left / dx, (top + h - 1) / dy, (left + w - 1) / dx], -1
    ).astype(np.float32)
    return boxes, (u[..., 4] < 0.5) & bool(spec["flip"])


def view_parameters(key, ids, shape):
    """Every view's parameters for `ids`: arrays `(n, draws, ...)`."""
    draws = key["draws"]
    if key["view"] == "resized_crop":
        return resized_crop_boxes(key["seed"], ids, draws, key, *shape[:2])
    return view_params(key["seed"], ids, draws, key["pad"], key["flip"])


def make_views(x, key, params):
    """The views of float images `x` (n, H, W, C) given one draw's
    parameters; the same ops at build and at training time."""
    if key["view"] == "resized_crop":
        boxes, mirror = params
        n = tf.shape(x)[0]
        out = tf.image.crop_and_resize(
            x, boxes, tf.range(n), tf.shape(x)[1:3], method="bilinear"
        )
        flipped = tf.reverse(out, axis=[2])
        return tf.where(tf.reshape(mirror, [-1, 1, 1, 1]), flipped, out)
    rows, cols, mirror = params
    return batching.crop_and_flip(x, rows, cols, mirror, key["pad"])
