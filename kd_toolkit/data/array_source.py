"""An array of images in memory as an indexed source."""

import numpy as np
import tensorflow as tf

from kd_toolkit.data.catalog import UNLABELED
from kd_toolkit.data.indexed_source import IndexedSource
from kd_toolkit.utils.array_digest import array_digest


class ArraySource(IndexedSource):
    """Images (and labels) held in memory, as an indexed source: the
    sharded teacher-output cache for data already in an array (e.g. from
    `kd_toolkit.data.load_numpy`, or a TFDS split read whole).

    Args:
        images: array `(N, H, W, C)`: floats in [0, 1] (as the models take
            them), or uint8 in 0..255 (kept as uint8, scaled when read).
        labels: int array `(N,)` of class ids (-1: unlabeled), or None.
        class_names: sequence of str or None.

    Raises:
        ValueError: for images that are not 4-D uint8 or floats, or labels
            of another length.

    Example:

    ```python
    x, y = kd_toolkit.data.load_numpy("fashion_mnist", "train")
    source = kd_toolkit.data.ArraySource(x, y)
    cache = kd_toolkit.ShardedTeacherCache.get_or_build(
        "runs/cache", teacher, source,
        augment=kd_toolkit.data.AugmentSpec(pad=4, flip=True), draws=8)
    ```
    """

    def __init__(self, images, labels=None, *, class_names=None):
        images = np.asarray(images)
        if images.ndim != 4 or not (
            images.dtype == np.uint8 or np.issubdtype(images.dtype, np.floating)
        ):
            raise ValueError(
                "`images` must be an array (N, H, W, C) of uint8 or floats "
                f"in [0, 1]. Received: images of shape {images.shape} and "
                f"dtype {images.dtype}"
            )
        if images.dtype != np.uint8:
            images = images.astype(np.float32, copy=False)
        self.images = images
        if labels is not None:
            labels = np.asarray(labels, np.int64).reshape(-1)
            if len(labels) != len(images):
                raise ValueError(
                    f"`labels` must have one entry per image ({len(images)})."
                    f" Received: {len(labels)} labels"
                )
            if np.all(labels == UNLABELED):
                labels = None
        self.labels = labels
        self.class_names = None if class_names is None else tuple(class_names)
        self._images_tensor = None

    @property
    def num_examples(self):
        return len(self.images)

    @property
    def input_shape(self):
        return tuple(int(d) for d in self.images.shape[1:])

    def fingerprint(self):
        """SHA-256 of the images' shape, dtype and bytes, and the labels
        (an array in memory hashes at memory speed)."""
        return array_digest(self.images, self.labels)

    def example(self, index):
        image = tf.gather(self._tensor(), index)
        if self.images.dtype == np.uint8:
            return tf.cast(image, tf.float32) / 255.0
        return image

    def _tensor(self):
        # Made once, eagerly: every dataset of this source shares it.
        if self._images_tensor is None:
            with tf.init_scope():
                self._images_tensor = tf.constant(self.images)
        return self._images_tensor

    def __getstate__(self):
        # Builder processes get the array, not the tensor.
        state = dict(self.__dict__)
        state["_images_tensor"] = None
        return state
