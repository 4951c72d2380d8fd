"""Indexed sources: examples with stable integer ids, read one by one.

What the sharded teacher-output cache (`kd_toolkit.ShardedTeacherCache`)
is built from and streams from. Example `i` must be the same image in
every run and on every machine: the store keys the teacher's outputs on
`(i, draw)`, and rebuilds view `(i, draw)` from `i` and the stored seed.

Two kinds ship: `ImageFolder` (files on disk, decoded inside `tf.data`)
and `ArraySource` (an array in memory). A user's own source (records with
an example id, a database of blobs) subclasses `IndexedSource` and
implements its four abstract members.
"""

import tensorflow as tf


class IndexedSource:
    """Examples `0 .. num_examples - 1`, each an image and maybe a label.

    Subclasses implement `num_examples`, `input_shape`, `fingerprint` and
    `example`, set `labels` and `class_names`, and may override `verify`.

    Attributes:
        labels: int64 array `(num_examples,)` of class ids (`UNLABELED`,
            -1, for unlabeled examples), or None when nothing is labeled.
        class_names: tuple of str, or None.
    """

    labels = None
    class_names = None

    @property
    def num_examples(self):
        """The number of examples."""
        raise NotImplementedError

    @property
    def num_classes(self):
        return None if self.class_names is None else len(self.class_names)

    @property
    def input_shape(self):
        """`(height, width, channels)` of every image, as the model takes
        it."""
        raise NotImplementedError

    def fingerprint(self):
        """A hex digest that changes when the examples change (the cache
        refuses a store built from another source)."""
        raise NotImplementedError

    def verify(self):
        """Raises `ValueError` naming the examples that cannot be read,
        before the teacher's pass over them starts. Default: none can
        fail."""

    def example(self, index):
        """The float32 `(H, W, C)` image in [0, 1] of example `index` (a
        scalar int64 tensor), inside a `tf.data` map."""
        raise NotImplementedError

    def examples(self, ids):
        """A `tf.data.Dataset` of the images of `ids`, in that order, read
        in parallel."""
        return tf.data.Dataset.from_tensor_slices(ids).map(
            self.example,
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
