"""Datasets through tensorflow-datasets (TFDS), never downloading unasked."""

import numpy as np


class TfdsDataNotFoundError(FileNotFoundError):
    """Raised when TFDS has no prepared copy of a dataset and may not fetch
    one."""


def _import_tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:
        raise ImportError(
            "The TFDS source needs tensorflow-datasets: "
            "`pip install tensorflow-datasets`, or use source='local'."
        ) from e
    return tfds


def load_tfds(name, split, data_dir=None, download=False):
    """Opens one split of a TFDS dataset as `(uint8 image, int64 label)`.

    Args:
        name: str. A TFDS dataset name, for example `"cifar10"`.
        split: str. `"train"` or `"test"`.
        data_dir: str or None. TFDS data folder; None means TFDS's default
            (`TFDS_DATA_DIR` or `~/tensorflow_datasets`).
        download: bool. Whether TFDS may download and prepare the data.
            With `False`, missing data fails at once instead of waiting on
            the network.

    Returns:
        A `tf.data.Dataset` in the order of the prepared files.

    Raises:
        TfdsDataNotFoundError: if `download=False` and the data has not
            been prepared in `data_dir`; the message says how to prepare it.
    """
    tfds = _import_tfds()
    try:
        return tfds.load(
            name,
            split=split,
            data_dir=None if data_dir is None else str(data_dir),
            as_supervised=True,
            download=download,
            shuffle_files=False,
        )
    except AssertionError as e:  # TFDS's "could not find data" signal.
        if download:
            raise
        raise TfdsDataNotFoundError(
            f"TFDS has no prepared copy of '{name}' ({e}). "
            + how_to_prepare(name, data_dir)
        ) from e


def to_numpy(dataset):
    """Materializes a `(image, label)` dataset as two numpy arrays."""
    images, labels = [], []
    for x, y in dataset.batch(4096).as_numpy_iterator():
        images.append(x)
        labels.append(y)
    if not images:
        shape = tuple(dataset.element_spec[0].shape)
        return np.zeros((0, *shape), np.uint8), np.zeros((0,), np.int64)
    return np.concatenate(images), np.concatenate(labels).astype(np.int64)


def how_to_prepare(name, data_dir=None):
    """Instructions for preparing `name` for TFDS without network here."""
    where = "DIR" if data_dir is None else str(data_dir)
    return (
        "To prepare it, on a machine with internet access run "
        f"`tfds build {name} --data_dir {where}` (or "
        f"`tfds.builder('{name}', data_dir='{where}')"
        ".download_and_prepare()` in Python), copy the resulting "
        f"'{where}/{name}' folder to this machine, and pass "
        f"data_dir='{where}' (or set TFDS_DATA_DIR). Where the network is "
        "reachable, download=True prepares it in place."
    )
