"""Fakes for the data tests: IDX files and CIFAR archives, real formats."""

import gzip
import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"

requires_debian_fashion_mnist = pytest.mark.skipif(
    not os.path.isdir(DEBIAN_FASHION_MNIST),
    reason="needs `apt-get install dataset-fashion-mnist`",
)


def write_idx(path, array, type_code=0x08):
    """Writes `array` as an IDX file, gzipped when `path` ends in .gz."""
    array = np.asarray(array)
    header = bytes([0, 0, type_code, array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    if str(path).endswith(".gz"):
        raw = gzip.compress(raw)
    with open(path, "wb") as f:
        f.write(raw)
    return str(path)


def tiny_images(n, height, width, channels, seed):
    """Random uint8 images: asymmetric, so shifts and flips show."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, height, width, channels), dtype=np.uint8)


def _cifar_batch(images, labels, name, batch_label):
    data = images.transpose(0, 3, 1, 2).reshape(len(images), 3072)
    batch = {
        b"batch_label": batch_label,
        b"data": data,
        b"filenames": [f"img_{i}.png".encode() for i in range(len(images))],
    }
    if name == "cifar10":
        batch[b"labels"] = [int(v) for v in labels]
    else:
        batch[b"fine_labels"] = [int(v) for v in labels]
        batch[b"coarse_labels"] = [int(v) // 5 for v in labels]
    return pickle.dumps(batch, protocol=2)


def write_cifar(root, name, per_batch=3, num_test=4, archive=True):
    """Writes a tiny CIFAR "python version" archive (or extracted folder).

    Same member names, pickle layout (bytes keys, `(N, 3072)` channel-first
    rows) and meta files as the real `cifar-10-python.tar.gz` and
    `cifar-100-python.tar.gz`.

    Returns:
        `(path, {"train": (images, labels), "test": (images, labels)})`,
        images uint8 NHWC.
    """
    num_classes = 10 if name == "cifar10" else 100
    if name == "cifar10":
        archive_name, folder = "cifar-10-python.tar.gz", "cifar-10-batches-py"
        train_files = [f"data_batch_{i}" for i in range(1, 6)]
        test_files, meta = ["test_batch"], "batches.meta"
    else:
        archive_name, folder = "cifar-100-python.tar.gz", "cifar-100-python"
        train_files, test_files, meta = ["train"], ["test"], "meta"
    members, arrays, seed = {}, {}, 0
    for split, files, n in (
        ("train", train_files, per_batch),
        ("test", test_files, num_test),
    ):
        parts = []
        for file in files:
            seed += 1
            images = tiny_images(n, 32, 32, 3, seed)
            labels = np.arange(seed, seed + n) % num_classes
            members[file] = _cifar_batch(images, labels, name, file.encode())
            parts.append((images, labels))
        arrays[split] = (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]).astype(np.int64),
        )
    members[meta] = pickle.dumps({b"num_cases_per_batch": per_batch}, 2)
    members["readme.html"] = b"<html></html>"
    os.makedirs(root, exist_ok=True)
    if archive:
        path = os.path.join(root, archive_name)
        with tarfile.open(path, "w:gz") as tar:
            for file, payload in members.items():
                info = tarfile.TarInfo(f"{folder}/{file}")
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
        return path, arrays
    path = os.path.join(root, folder)
    os.makedirs(path)
    for file, payload in members.items():
        with open(os.path.join(path, file), "wb") as f:
            f.write(payload)
    return path, arrays
