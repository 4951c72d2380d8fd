import os
import pickle
import tarfile

import numpy as np
import pytest

from kd_toolkit.data import cifar_archive
from tests.data.fakes import write_cifar


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
@pytest.mark.parametrize("archive", [True, False])
def test_reads_both_splits(tmp_path, name, archive):
    path, arrays = write_cifar(str(tmp_path), name, archive=archive)
    assert cifar_archive.find_cifar(path, name) == path
    for split, count in (
        ("train", 15 if name == "cifar10" else 3),
        ("test", 4),
    ):
        images, labels = cifar_archive.load_cifar_split(path, name, split)
        assert images.shape == (count, 32, 32, 3)
        assert images.dtype == np.uint8 and labels.dtype == np.int64
        # Pixel order: the (N, 3072) rows are channel-first planes.
        np.testing.assert_array_equal(images, arrays[split][0])
        np.testing.assert_array_equal(labels, arrays[split][1])


@pytest.mark.parametrize("archive", [True, False])
def test_found_from_the_parent_folder(tmp_path, archive):
    path, _ = write_cifar(str(tmp_path), "cifar10", archive=archive)
    assert cifar_archive.find_cifar(str(tmp_path), "cifar10") == path
    assert cifar_archive.find_cifar(str(tmp_path), "cifar100") is None


def test_find_nothing(tmp_path):
    assert cifar_archive.find_cifar(str(tmp_path), "cifar10") is None
    assert cifar_archive.find_cifar(str(tmp_path / "nope"), "cifar10") is None
    text = tmp_path / "notes.txt"
    text.write_text("not an archive")
    assert cifar_archive.find_cifar(str(text), "cifar10") is None


def test_refuses_code_in_pickles(tmp_path):
    path, _ = write_cifar(str(tmp_path), "cifar10", archive=False)
    evil = pickle.dumps({b"data": os.system}, protocol=2)
    with open(os.path.join(path, "test_batch"), "wb") as f:
        f.write(evil)
    with pytest.raises(ValueError, match="refusing to load global") as e:
        cifar_archive.load_cifar_split(path, "cifar10", "test")
    assert "test_batch" in str(e.value)


@pytest.mark.parametrize(
    "batch, message",
    [
        ({b"labels": [1]}, "expected a dict with keys"),
        (
            {b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]},
            "expected uint8 data",
        ),
        (
            {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]},
            r"shape \(N, 3072\)",
        ),
        (
            {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]},
            "2 images but 1 labels",
        ),
        (
            {b"data": np.zeros((1, 3072), np.uint8), b"labels": [10]},
            r"labels must lie in \[0, 10\)",
        ),
    ],
)
def test_corrupt_batch(tmp_path, batch, message):
    path, _ = write_cifar(str(tmp_path), "cifar10", archive=False)
    with open(os.path.join(path, "test_batch"), "wb") as f:
        pickle.dump(batch, f, protocol=2)
    with pytest.raises(ValueError, match=message):
        cifar_archive.load_cifar_split(path, "cifar10", "test")


def test_not_a_pickle(tmp_path):
    path, _ = write_cifar(str(tmp_path), "cifar10", archive=False)
    with open(os.path.join(path, "test_batch"), "wb") as f:
        f.write(b"garbage")
    with pytest.raises(ValueError, match=r"Corrupt CIFAR batch .*test_batch"):
        cifar_archive.load_cifar_split(path, "cifar10", "test")


def test_missing_batch_file(tmp_path):
    path, _ = write_cifar(str(tmp_path), "cifar10", archive=False)
    os.remove(os.path.join(path, "data_batch_3"))
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        cifar_archive.load_cifar_split(path, "cifar10", "train")


def test_archive_missing_member(tmp_path):
    path = str(tmp_path / "cifar-10-python.tar.gz")
    with tarfile.open(path, "w:gz"):
        pass
    with pytest.raises(FileNotFoundError, match="lacks the members"):
        cifar_archive.load_cifar_split(path, "cifar10", "test")


def test_truncated_archive(tmp_path):
    path, _ = write_cifar(str(tmp_path), "cifar10", archive=True)
    with open(path, "rb") as f:
        raw = f.read()
    with open(path, "wb") as f:
        f.write(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="Corrupt CIFAR archive"):
        cifar_archive.load_cifar_split(path, "cifar10", "test")
