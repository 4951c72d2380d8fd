"""Reader for the CIFAR-10/100 "python version" archives.

Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", 2009,
https://www.cs.toronto.edu/~kriz/cifar.html. Each batch file is a pickled
dict with a `data` uint8 array of shape `(N, 3072)` (1024 red, 1024 green,
then 1024 blue values of a 32x32 image, row-major) and a list of labels.

Pickles can run code when loaded, so batches are read with an unpickler
that only accepts the few globals a numpy array needs.
"""

import dataclasses
import io
import os
import pickle
import tarfile

import numpy as np


@dataclasses.dataclass(frozen=True)
class CifarLayout:
    """File names of one CIFAR "python version" archive.

    Args:
        archive: str. Name of the `.tar.gz` file.
        folder: str. Folder the archive extracts to.
        train: tuple of str. Batch files of the train split.
        test: tuple of str. Batch files of the test split.
        label_key: bytes. Key of the labels in each batch dict.
    """

    archive: str
    folder: str
    train: tuple
    test: tuple
    label_key: bytes

    def files(self, split):
        return self.train if split == "train" else self.test


LAYOUTS = {
    "cifar10": CifarLayout(
        archive="cifar-10-python.tar.gz",
        folder="cifar-10-batches-py",
        train=tuple(f"data_batch_{i}" for i in range(1, 6)),
        test=("test_batch",),
        label_key=b"labels",
    ),
    "cifar100": CifarLayout(
        archive="cifar-100-python.tar.gz",
        folder="cifar-100-python",
        train=("train",),
        test=("test",),
        label_key=b"fine_labels",
    ),
}

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that refuses every global but numpy array rebuilding."""

    def find_class(self, module, name):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f"refusing to load global '{module}.{name}'; a CIFAR batch "
                "holds only arrays, lists and bytes"
            )
        return super().find_class(module, name)


def find_cifar(path, name):
    """Locates a CIFAR archive or extracted folder at or inside `path`.

    Args:
        path: str. The archive itself, its extracted folder, or a folder
            holding either.
        name: str. `"cifar10"` or `"cifar100"`.

    Returns:
        The path of the `.tar.gz` file or of the extracted folder, or None
        when `path` holds neither.
    """
    layout = LAYOUTS[name]
    path = os.fspath(path)
    if os.path.isfile(path):
        return path if tarfile.is_tarfile(path) else None
    if not os.path.isdir(path):
        return None
    for folder in (path, os.path.join(path, layout.folder)):
        if os.path.isfile(os.path.join(folder, layout.test[0])):
            return folder
    archive = os.path.join(path, layout.archive)
    return archive if os.path.isfile(archive) else None


def load_cifar_split(location, name, split):
    """Loads one split from a CIFAR archive or its extracted folder.

    Args:
        location: str. A path returned by `find_cifar`.
        name: str. `"cifar10"` or `"cifar100"` (fine labels).
        split: str. `"train"` or `"test"`.

    Returns:
        `(images, labels)`: uint8 `(N, 32, 32, 3)` and int64 `(N,)`.

    Raises:
        FileNotFoundError: if a batch file of the split is missing.
        ValueError: naming the file, if a batch is corrupt or holds
            anything but arrays, lists and bytes.
    """
    layout = LAYOUTS[name]
    num_classes = 10 if name == "cifar10" else 100
    batches = []
    if os.path.isdir(location):
        for file in layout.files(split):
            path = os.path.join(location, file)
            if not os.path.isfile(path):
                raise FileNotFoundError(
                    f"Missing CIFAR batch file '{path}'. Expected the files "
                    f"{list(layout.files(split))} in '{location}'."
                )
            with open(path, "rb") as f:
                batches.append(_parse_batch(f.read(), path, layout))
    else:
        batches = _read_archive(location, layout, split)
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"Corrupt CIFAR data in '{location}': {name} labels must lie "
            f"in [0, {num_classes}). Received range: "
            f"[{labels.min()}, {labels.max()}]"
        )
    return images, labels


def _read_archive(archive, layout, split):
    wanted = {f"{layout.folder}/{f}": f for f in layout.files(split)}
    found = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                key = member.name.removeprefix("./")
                if key in wanted and member.isfile():
                    where = f"{archive}:{key}"
                    data = tar.extractfile(member).read()
                    found[key] = _parse_batch(data, where, layout)
    except (tarfile.TarError, OSError, EOFError) as e:
        raise ValueError(f"Corrupt CIFAR archive '{archive}': {e}") from e
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise FileNotFoundError(
            f"CIFAR archive '{archive}' lacks the members {missing}. "
            f"Expected the '{layout.archive}' archive, as distributed."
        )
    return [found[key] for key in wanted]


def _parse_batch(data, where, layout):
    try:
        batch = _ArrayUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as e:  # Any unpickling failure means a bad file.
        raise ValueError(f"Corrupt CIFAR batch '{where}': {e}") from e
    if not isinstance(batch, dict) or b"data" not in batch:
        raise ValueError(
            f"Corrupt CIFAR batch '{where}': expected a dict with keys "
            f"b'data' and {layout.label_key!r}."
        )
    images = np.asarray(batch[b"data"])
    labels = np.asarray(batch.get(layout.label_key, []), dtype=np.int64)
    if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != 3072:
        raise ValueError(
            f"Corrupt CIFAR batch '{where}': expected uint8 data of shape "
            f"(N, 3072). Received: dtype={images.dtype}, shape={images.shape}"
        )
    if labels.shape != (images.shape[0],):
        raise ValueError(
            f"Corrupt CIFAR batch '{where}': {images.shape[0]} images but "
            f"{labels.shape[0]} labels under key {layout.label_key!r}."
        )
    images = images.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels
