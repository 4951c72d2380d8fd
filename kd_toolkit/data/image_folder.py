"""A folder of JPEG/PNG images as an indexed source and as `tf.data` batches.

The way most users hold their data: one subfolder per class (any depth of
folders below it), or a flat or nested folder of unlabeled images. Files
are listed once, sorted by their relative path, so example `i` is the same
file on every machine and in every run (the id the teacher-output cache
keys on). Images are read and decoded inside `tf.data`, in parallel, never
loaded whole.

Size: one class and its scan; to split next: the file scan and split (pure
Python) from the tf.data pipeline.
"""

import hashlib
import os
import pathlib

import numpy as np
import tensorflow as tf

from kd_toolkit.data import batching
from kd_toolkit.data.catalog import UNLABELED
from kd_toolkit.data.catalog import check_augment
from kd_toolkit.data.indexed_source import IndexedSource
from kd_toolkit.utils import validation

EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
LABEL_MODES = ("inferred", None)
# Files whose first bytes are hashed into the fingerprint, spread evenly.
_SAMPLED_FILES = 64
_SAMPLED_BYTES = 4096


class ImageFolder(IndexedSource):
    """The images under a folder, with labels from their class subfolders.

    Args:
        path: str or path-like. The folder.
        image_size: `(height, width)`. Every image is resized to it
            (bilinear), as the model takes it.
        labels: `"inferred"` (default): each direct subfolder of `path` is
            a class, named after the folder, classes in sorted order, and
            every image below it (at any depth) has that class. None: every
            image below `path` is unlabeled.
        channels: int, 1 or 3. Channels after decoding (grayscale or RGB).
            Defaults to `3`.
        class_names: sequence of str or None. With `labels="inferred"`, the
            class order to use (it must name exactly the subfolders);
            None sorts them.

    Attributes:
        files: tuple of str, the images' paths relative to `path`, sorted;
            example `i` is `files[i]`.
        paths: tuple of str, the same files' full paths.
        labels: int64 array `(N,)` of class ids, or None.
        class_names: tuple of str, or None without labels.
        num_classes: int, or None without labels.

    Raises:
        FileNotFoundError: if `path` is not a folder.
        ValueError: for a bad `image_size`, `labels` or `channels`, a
            folder without images, a class folder without images, or
            `class_names` that do not name the subfolders.

    Example:

    ```python
    folder = kd_toolkit.data.ImageFolder("photos/train", image_size=(96, 96))
    folder.class_names  # ('cat', 'dog')
    train = folder.dataset(batch_size=64, shuffle=True, seed=0)
    ```
    """

    def __init__(
        self,
        path,
        image_size,
        *,
        labels="inferred",
        channels=3,
        class_names=None,
    ):
        self.path = pathlib.Path(path)
        if not self.path.is_dir():
            raise FileNotFoundError(
                "`path` must be a folder of images. Received: "
                f"path={str(path)!r}"
                + (" (a file)" if self.path.exists() else " (missing)")
            )
        self.image_size = check_image_size(image_size)
        if labels not in LABEL_MODES:
            raise ValueError(
                f"`labels` must be one of {list(LABEL_MODES)}. Received: "
                f"labels={labels!r}"
            )
        self.channels = _check_channels(channels)
        if labels is None:
            self.files = tuple(_images_below(self.path, self.path))
            self.labels = None
            self.class_names = None
        else:
            self.files, self.labels, self.class_names = _by_class(
                self.path, class_names
            )
        if not self.files:
            raise ValueError(
                f"No images ({', '.join(EXTENSIONS)}) under the folder. "
                f"Received: path={str(path)!r}"
            )
        self.paths = tuple(str(self.path / f) for f in self.files)

    def subset(self, ids):
        """The same folder restricted to the examples `ids` (in that
        order), renumbered from 0: for a held-out split or a limit."""
        ids = np.asarray(ids, np.int64)
        out = object.__new__(ImageFolder)
        out.__dict__.update(self.__dict__)
        out.files = tuple(self.files[i] for i in ids)
        out.paths = tuple(self.paths[i] for i in ids)
        out.labels = None if self.labels is None else self.labels[ids]
        return out

    def with_unlabeled(self, other):
        """These images followed by `other`'s, whose labels are dropped
        (`UNLABELED`): one source for semi-supervised distillation. Files
        of `other` are named by their path below `other.path`, prefixed
        with `unlabeled/`."""
        if other.image_size != self.image_size or (
            other.channels != self.channels
        ):
            raise ValueError(
                "The unlabeled images must be decoded like the labeled ones. "
                f"Received: image_size {other.image_size} and channels "
                f"{other.channels}, expected {self.image_size} and "
                f"{self.channels}"
            )
        out = object.__new__(ImageFolder)
        out.__dict__.update(self.__dict__)
        out.files = self.files + tuple(f"unlabeled/{f}" for f in other.files)
        out.paths = self.paths + other.paths
        mine = (
            np.full(len(self.files), UNLABELED, np.int64)
            if self.labels is None
            else self.labels
        )
        out.labels = np.concatenate(
            [mine, np.full(len(other.files), UNLABELED, np.int64)]
        )
        return out

    @property
    def num_examples(self):
        return len(self.files)

    @property
    def input_shape(self):
        """`(height, width, channels)` of the decoded, resized images."""
        return (*self.image_size, self.channels)

    def fingerprint(self):
        """SHA-256 of the folder's manifest, not of every image: the
        relative paths, their sizes and classes, the image size and
        channels, and the first bytes of an even sample of the files. A
        file added, removed, renamed or resized changes it; so does a
        content change in a sampled file."""
        digest = hashlib.sha256()
        digest.update(f"{self.image_size}{self.channels}".encode())
        for i, (name, path) in enumerate(zip(self.files, self.paths)):
            size = os.stat(path).st_size
            label = "" if self.labels is None else int(self.labels[i])
            digest.update(f"{name}\0{size}\0{label}\n".encode())
        step = max(1, len(self.files) // _SAMPLED_FILES)
        for path in self.paths[::step]:
            with open(path, "rb") as f:
                digest.update(f.read(_SAMPLED_BYTES))
        return digest.hexdigest()

    def verify(self, num_parallel_calls=tf.data.AUTOTUNE):
        """Decodes every file once; raises naming those that cannot be.

        Raises:
            ValueError: listing (up to ten of) the files that are not
                decodable images, and how many there are.
        """
        n = self.num_examples
        # (id, path) slices, not a gather from the paths captured in the
        # map's graph: that graph constant cost ~2 KB of memory per file.
        ok = (
            tf.data.Dataset.from_tensor_slices((np.arange(n), list(self.paths)))
            .map(
                # The decoded (not resized) shape: it needs the decode.
                lambda i, path: (i, tf.shape(self._raw(path))),
                num_parallel_calls=num_parallel_calls,
            )
            .ignore_errors()
            .map(lambda i, _: i)
        )
        decoded = np.zeros(n, bool)
        for batch in ok.batch(4096).as_numpy_iterator():
            decoded[batch] = True
        bad = [self.files[i] for i in np.flatnonzero(~decoded)]
        if bad:
            raise ValueError(
                f"{len(bad)} file(s) under {str(self.path)!r} cannot be "
                f"decoded as images: {bad[:10]}"
                + (" ..." if len(bad) > 10 else "")
                + ". Remove or replace them. Received: path="
                f"{str(self.path)!r}"
            )

    def images(self, ids=None):
        """A `tf.data.Dataset` of uint8 `(H, W, C)` images in id order (the
        given `ids`, or all), decoded in parallel: for indexed consumers
        such as the teacher-output cache."""
        paths = tf.constant(self.paths)
        index = tf.data.Dataset.from_tensor_slices(
            np.arange(self.num_examples) if ids is None else np.asarray(ids)
        )
        return index.map(
            lambda i: self.decode(tf.gather(paths, i)),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )

    def arrays(self, ids=None):
        """`(images, labels)` as numpy: float32 `(N, H, W, C)` in [0, 1]
        and int64 labels (-1 for unlabeled images), for the given `ids`
        (default: all) in that order. Holds them in memory: for evaluation
        sets, calibration samples and the in-memory teacher-output cache.
        """
        ids = np.arange(self.num_examples) if ids is None else np.asarray(ids)
        batches = self.images(ids).batch(1024).as_numpy_iterator()
        parts = [b.astype(np.float32) / 255.0 for b in batches]
        images = (
            np.concatenate(parts)
            if parts
            else np.zeros((0, *self.input_shape), np.float32)
        )
        labels = (
            np.full(len(ids), UNLABELED, np.int64)
            if self.labels is None
            else self.labels[ids]
        )
        return images, labels

    def dataset(
        self,
        batch_size=128,
        *,
        augment=None,
        shuffle=False,
        seed=0,
        limit=None,
        one_hot=False,
        drop_remainder=False,
    ):
        """Batches with the contract of `kd_toolkit.data.load`.

        Args:
            batch_size: int >= 1.
            augment: `AugmentSpec` or None (no augmentation).
            shuffle: bool. Shuffle the files each epoch (their paths are
                shuffled, before decoding: the shuffle holds no images).
            seed: int >= 0. Seeds the order and the augmentation.
            limit: int >= 1 or None. The first `limit` files only.
            one_hot: bool. One-hot float32 labels.
            drop_remainder: bool. Drop the last, smaller batch.

        Returns:
            A `tf.data.Dataset` of `(float32 images (B, H, W, C) in [0, 1],
            labels)` with labels int32 `(B,)` (or one-hot); without labels,
            of images only.
        """
        batch_size = validation.check_int("batch_size", batch_size, 1)
        seed = validation.check_int("seed", seed, 0)
        limit = validation.check_int("limit", limit, 1, allow_none=True)
        check_augment(augment)
        n = min(limit or self.num_examples, self.num_examples)
        paths = list(self.paths[:n])
        labels = (
            np.full(n, UNLABELED, np.int64)
            if self.labels is None
            else self.labels[:n]
        )
        source = tf.data.Dataset.from_tensor_slices((paths, labels))
        if shuffle:
            source = source.shuffle(n, seed=seed, reshuffle_each_iteration=True)
        source = source.map(
            lambda p, y: (self.decode(p), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        batches = batching.build(
            source,
            num_classes=self.num_classes or 1,
            batch_size=batch_size,
            augment_spec=augment,
            seed=seed,
            one_hot=one_hot and self.labels is not None,
            drop_remainder=drop_remainder,
        )
        if self.labels is None:
            batches = batches.map(lambda x, y: x)
        return batches

    def example(self, index):
        """The float32 image in [0, 1] of file `index`, decoded and
        resized."""
        with tf.init_scope():  # one eager constant, captured once a trace
            paths = tf.constant(self.paths)
        return self._floats(tf.gather(paths, index))

    def examples(self, ids):
        """The images of `ids` in that order, decoded in parallel; the
        dataset holds those files' paths only (a shard's, not the
        folder's)."""
        paths = [self.paths[i] for i in np.asarray(ids)]
        return tf.data.Dataset.from_tensor_slices(paths).map(
            self._floats,
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )

    def _floats(self, path):
        return tf.cast(self.decode(path), tf.float32) / 255.0

    def _raw(self, path):
        return tf.io.decode_image(
            tf.io.read_file(path),
            channels=self.channels,
            expand_animations=False,
        )

    def decode(self, path):
        """The uint8 `(H, W, C)` image of a file path (a string tensor),
        decoded and resized as every image of this folder is."""
        image = tf.image.resize(
            self._raw(path), self.image_size, method="bilinear"
        )
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)


def from_directory(
    path,
    image_size,
    *,
    labels="inferred",
    channels=3,
    class_names=None,
    batch_size=128,
    augment=None,
    shuffle=False,
    seed=0,
    limit=None,
    one_hot=False,
    drop_remainder=False,
):
    """Batches of a folder of JPEG/PNG images, as `kd_toolkit.data.load`
    gives a named dataset.

    See `ImageFolder` for the folder layout and `ImageFolder.dataset` for
    the batches. The returned dataset carries `class_names` (None without
    labels), `file_paths` (relative, in id order) and `folder` (the
    `ImageFolder`), as Keras's `image_dataset_from_directory` carries its
    class names.

    Example:

    ```python
    train = kd_toolkit.data.from_directory(
        "photos/train", image_size=(96, 96), shuffle=True,
        augment=kd_toolkit.data.AugmentSpec(pad=12, flip=True))
    unlabeled = kd_toolkit.data.from_directory(
        "photos/unlabeled", image_size=(96, 96), labels=None)
    distiller.fit(train, epochs=10)
    ```
    """
    folder = ImageFolder(
        path,
        image_size,
        labels=labels,
        channels=channels,
        class_names=class_names,
    )
    dataset = folder.dataset(
        batch_size,
        augment=augment,
        shuffle=shuffle,
        seed=seed,
        limit=limit,
        one_hot=one_hot,
        drop_remainder=drop_remainder,
    )
    dataset.class_names = folder.class_names
    dataset.file_paths = folder.files
    dataset.folder = folder
    return dataset


def check_image_size(image_size, arg="image_size"):
    """`(height, width)` as a tuple of two ints >= 1.

    Raises:
        ValueError: for anything else.
    """
    try:
        size = tuple(image_size)
    except TypeError:
        size = None
    if (
        size is None
        or len(size) != 2
        or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool)
            for v in size
        )
        or min(size) < 1
    ):
        raise ValueError(
            f"`{arg}` must be (height, width), two ints >= 1. Received: "
            f"{arg}={image_size!r}"
        )
    return tuple(int(v) for v in size)


def _check_channels(channels):
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ValueError(
            "`channels` must be 1 (grayscale) or 3 (RGB). Received: "
            f"channels={channels!r}"
        )
    return int(channels)


def _images_below(root, base):
    """Sorted relative paths of the image files below `root`."""
    found = []
    for directory, folders, files in os.walk(root):
        folders.sort()
        for name in files:
            if name.lower().endswith(EXTENSIONS) and not name.startswith("."):
                found.append(
                    pathlib.Path(directory, name).relative_to(base).as_posix()
                )
    return sorted(found)


def _by_class(root, class_names):
    folders = sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith(".")
    )
    if not folders:
        raise ValueError(
            "With labels='inferred' the folder needs one subfolder per "
            "class; it has none (pass labels=None for unlabeled images). "
            f"Received: path={str(root)!r}"
        )
    if class_names is not None:
        class_names = tuple(class_names)
        if sorted(class_names) != folders:
            raise ValueError(
                "`class_names` must name exactly the class subfolders "
                f"{folders}. Received: class_names={list(class_names)}"
            )
        folders = list(class_names)
    files, labels = [], []
    for label, name in enumerate(folders):
        found = _images_below(root / name, root)
        if not found:
            raise ValueError(
                f"The class folder {name!r} holds no images "
                f"({', '.join(EXTENSIONS)}). Remove it or add images. "
                f"Received: path={str(root)!r}"
            )
        files += found
        labels += [label] * len(found)
    order = np.argsort(np.asarray(files), kind="stable")
    return (
        tuple(files[i] for i in order),
        np.asarray(labels, np.int64)[order],
        tuple(folders),
    )
