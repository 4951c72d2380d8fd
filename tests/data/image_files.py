"""Tiny image folders written by the tests: real PNG and JPEG files."""

import numpy as np
import tensorflow as tf


def write_image(path, image, fmt=None):
    """Writes a uint8 `(H, W, C)` array as PNG or JPEG (by suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = fmt or path.suffix.lower().lstrip(".")
    encode = tf.io.encode_png if fmt == "png" else tf.io.encode_jpeg
    path.write_bytes(encode(tf.constant(image)).numpy())


def class_folder(root, per_class=3, size=(12, 10), channels=3, seed=0):
    """`root/{cat,dog}/...`: PNG and JPEG images, one nested subfolder.

    Returns:
        `{relative path: (image array, class name)}`.
    """
    rng = np.random.default_rng(seed)
    written = {}
    for name in ("cat", "dog"):
        for i in range(per_class):
            image = rng.integers(0, 256, (*size, channels), dtype=np.uint8)
            sub = "nested/" if i == 0 else ""
            suffix = ".jpg" if i == 1 else ".png"
            rel = f"{name}/{sub}img{i}{suffix}"
            write_image(root / rel, image)
            written[rel] = (image, name)
    return written


def unlabeled_folder(root, n=5, size=(12, 10), seed=1):
    rng = np.random.default_rng(seed)
    for i in range(n):
        image = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        write_image(root / f"part{i % 2}" / f"u{i}.png", image)
    return n
