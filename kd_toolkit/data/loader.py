"""Entry points: `load`, `load_numpy` and `representative_dataset`."""

import os

import numpy as np
import tensorflow as tf

from kd_toolkit.data import batching
from kd_toolkit.data import catalog
from kd_toolkit.data import local_source
from kd_toolkit.data import tfds_source
from kd_toolkit.utils import validation


def load(
    name,
    split="train",
    batch_size=128,
    *,
    source="auto",
    data_dir=None,
    augment=None,
    shuffle=None,
    limit=None,
    seed=0,
    one_hot=False,
    drop_remainder=False,
    download=False,
):
    """Loads a named dataset as a batched, prefetched `tf.data.Dataset`.

    Sources: `"local"` reads offline files (Fashion-MNIST IDX files, by
    default from the Debian package `dataset-fashion-mnist`; MNIST IDX
    files; CIFAR-10/100 "python version" archives), `"tfds"` reads a
    prepared tensorflow-datasets copy, and `"auto"` uses the local files
    when they are there and TFDS otherwise. Nothing is downloaded unless
    `download=True`.

    Training augmentation: CIFAR pads 4 pixels, crops 32x32 at random and
    flips horizontally; Fashion-MNIST pads 2, crops 28x28 and flips; MNIST
    pads 2 and crops (digits are never mirrored).

    Args:
        name: str. One of `kd_toolkit.data.names()`.
        split: str. `"train"` or `"test"`. Defaults to `"train"`.
        batch_size: int >= 1. Defaults to `128`.
        source: str. `"auto"`, `"tfds"` or `"local"`. Defaults to `"auto"`.
        data_dir: str, path-like or None. For local files: the folder (or
            CIFAR archive) to read, overriding `KD_TOOLKIT_<NAME>_DIR` and
            the default folder. For TFDS: its data folder.
        augment: bool or None. None means True for `"train"`, False for
            `"test"`.
        shuffle: bool or None. None means True for `"train"`.
        limit: int >= 1 or None. Keep only the first `limit` examples of
            the split (deterministic, before shuffling).
        seed: int >= 0. Seeds the shuffle and the augmentation. Defaults to
            `0`.
        one_hot: bool. One-hot float32 labels `(B, C)` instead of int32
            ids `(B,)`. Defaults to `False`.
        drop_remainder: bool. Drop the last, smaller batch.
        download: bool. Let TFDS download and prepare missing data.
            Defaults to `False`, so missing data fails at once.

    Returns:
        A `tf.data.Dataset` of `(images, labels)`: float32 images in
        `[0, 1]` of shape `(B, H, W, C)`, labels int32 `(B,)` or float32
        `(B, num_classes)`.

    Raises:
        ValueError: for an unknown name, split or source, or a bad
            argument value.
        FileNotFoundError: if the data is not on this machine; the message
            says how to get it.

    Example:

    ```python
    train = kd_toolkit.data.load("fashion_mnist", "train", batch_size=128)
    test = kd_toolkit.data.load("fashion_mnist", "test", batch_size=256)
    model.fit(train, validation_data=test, epochs=5)
    ```
    """
    info = catalog.dataset_info(name)
    validation.check_choice("split", split, catalog.SPLITS)
    validation.check_choice("source", source, catalog.SOURCES)
    batch_size = validation.check_int("batch_size", batch_size, 1)
    limit = validation.check_int("limit", limit, 1, allow_none=True)
    seed = validation.check_int("seed", seed, 0)
    augment = _check_optional_bool("augment", augment, split == "train")
    shuffle = _check_optional_bool("shuffle", shuffle, split == "train")
    for arg, value in (
        ("one_hot", one_hot),
        ("drop_remainder", drop_remainder),
        ("download", download),
    ):
        _check_optional_bool(arg, value, None, allow_none=False)
    _check_data_dir(data_dir)

    arrays, dataset = _open(name, split, source, data_dir, download, limit)
    if arrays is not None:
        num_examples = len(arrays[1])
        dataset = tf.data.Dataset.from_tensor_slices(arrays)
    else:
        num_examples = min(
            limit or info.num_examples(split), info.num_examples(split)
        )
    return batching.build(
        dataset,
        num_classes=info.num_classes,
        batch_size=batch_size,
        augment_spec=catalog.augment_spec(name) if augment else None,
        shuffle_buffer=num_examples if shuffle else 0,
        seed=seed,
        one_hot=one_hot,
        drop_remainder=drop_remainder,
        # Local arrays already sit in memory; TFDS examples are decoded
        # once and kept.
        cache=arrays is None,
    )


def load_numpy(name, split="test", *, source="auto", data_dir=None, limit=None):
    """Loads a whole split as numpy arrays (no augmentation, no shuffle).

    Args:
        name: str. One of `kd_toolkit.data.names()`.
        split: str. `"train"` or `"test"`. Defaults to `"test"`.
        source: str. `"auto"`, `"tfds"` or `"local"`; see `load`.
        data_dir: str, path-like or None. See `load`.
        limit: int >= 1 or None. Keep only the first `limit` examples.

    Returns:
        `(x, y)`: float32 images in `[0, 1]` of shape `(N, H, W, C)` and
        int64 labels of shape `(N,)`.

    Raises:
        ValueError: for an unknown name, split or source, or a bad `limit`.
        FileNotFoundError: if the data is not on this machine.

    Example:

    ```python
    x, y = kd_toolkit.data.load_numpy("fashion_mnist", "test")
    accuracy = (model.predict(x).argmax(-1) == y).mean()
    ```
    """
    catalog.dataset_info(name)
    validation.check_choice("split", split, catalog.SPLITS)
    validation.check_choice("source", source, catalog.SOURCES)
    limit = validation.check_int("limit", limit, 1, allow_none=True)
    _check_data_dir(data_dir)
    arrays, dataset = _open(name, split, source, data_dir, False, limit)
    if arrays is None:
        arrays = tfds_source.to_numpy(dataset)
    images, labels = arrays
    return images.astype(np.float32) / np.float32(255.0), labels


def representative_dataset(
    name, num_samples=200, *, split="train", source="auto", data_dir=None
):
    """A calibration data generator for TFLite full-integer quantization.

    Uses the first `num_samples` images of the split, scaled to `[0, 1]`
    like the training inputs.

    Args:
        name: str. One of `kd_toolkit.data.names()`.
        num_samples: int >= 1. Number of images. Defaults to `200`.
        split: str. `"train"` or `"test"`. Defaults to `"train"`.
        source: str. `"auto"`, `"tfds"` or `"local"`; see `load`.
        data_dir: str, path-like or None. See `load`.

    Returns:
        A function that returns a generator of `[x]` lists, `x` float32
        of shape `(1, H, W, C)`; what `TFLiteConverter.representative_dataset`
        expects.

    Raises:
        ValueError: for an unknown name or a bad `num_samples`.
        FileNotFoundError: if the data is not on this machine.

    Example:

    ```python
    converter.representative_dataset = (
        kd_toolkit.data.representative_dataset("fashion_mnist", 200))
    ```
    """
    num_samples = validation.check_int("num_samples", num_samples, 1)
    images, _ = load_numpy(
        name, split, source=source, data_dir=data_dir, limit=num_samples
    )

    def generator():
        for i in range(images.shape[0]):
            yield [images[i : i + 1]]

    return generator


def _open(name, split, source, data_dir, download, limit):
    """Returns `((x, y), None)` from local files or `(None, dataset)`."""
    num_classes = catalog.dataset_info(name).num_classes
    if source != "tfds":
        location = local_source.find(name, data_dir)
        if location is not None:
            x, y = local_source.load(location, name, split, num_classes)
            if limit is not None:
                x, y = x[:limit], y[:limit]
            return (x, y), None
        if source == "local":
            raise FileNotFoundError(_no_local_files(name, data_dir))
    try:
        dataset = tfds_source.load_tfds(name, split, data_dir, download)
    except tfds_source.TfdsDataNotFoundError as e:
        if source == "tfds":
            raise
        raise FileNotFoundError(
            f"Dataset '{name}' is not on this machine, neither as local "
            "files nor as prepared TFDS data. Either:\n"
            f"- local files: {_no_local_files(name, data_dir)}\n"
            f"- TFDS: {e}"
        ) from e
    if limit is not None:
        dataset = dataset.take(limit)
    return None, dataset


def _no_local_files(name, data_dir):
    path = local_source.candidate_path(name, data_dir)
    if path is None:
        where = (
            f"No local '{name}' location given (data_dir=None and "
            f"{local_source.env_var(name)} unset)."
        )
    else:
        where = f"No local '{name}' files at '{path}'."
    return f"{where} {local_source.how_to_get(name)}"


def _check_optional_bool(arg, value, default, allow_none=True):
    if value is None and allow_none:
        return default
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    expected = "a bool or None" if allow_none else "a bool"
    raise ValueError(
        f"Argument `{arg}` must be {expected}. Received: {arg}={value!r}"
    )


def _check_data_dir(data_dir):
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise ValueError(
            "Argument `data_dir` must be a str, a path-like or None. "
            f"Received: data_dir={data_dir!r}"
        )
