import gzip
import os

import numpy as np
import pytest

from kd_toolkit.data import idx
from tests.data.fakes import DEBIAN_FASHION_MNIST
from tests.data.fakes import requires_debian_fashion_mnist
from tests.data.fakes import write_idx


@pytest.mark.parametrize("ext", ["", ".gz"])
@pytest.mark.parametrize(
    "dtype, code", [("u1", 0x08), ("i2", 0x0B), ("i4", 0x0C), ("f4", 0x0D)]
)
def test_round_trip(tmp_path, ext, dtype, code):
    array = (np.arange(24) * 7 - 5).reshape(2, 3, 4).astype(dtype)
    path = write_idx(tmp_path / f"a-idx3{ext}", array, type_code=code)
    out = idx.read_idx(path)
    assert out.dtype == np.dtype(dtype)
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, array)


def test_gzip_detected_by_content_not_name(tmp_path):
    array = np.arange(6, dtype=np.uint8)
    path = write_idx(tmp_path / "labels.gz", array)
    os.rename(path, tmp_path / "labels")
    np.testing.assert_array_equal(idx.read_idx(tmp_path / "labels"), array)


def _corrupt(tmp_path, raw, gz=False):
    path = tmp_path / ("bad-file.gz" if gz else "bad-file")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x02ab", "does not start with"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x02ab", "Unknown IDX type code"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", "Truncated IDX file"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05ab", "needs 5 bytes of data"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01ab", "needs 1 bytes of data"),
    ],
)
@pytest.mark.parametrize("gz", [False, True])
def test_corrupt_file_names_the_file(tmp_path, raw, message, gz):
    path = _corrupt(tmp_path, raw, gz)
    with pytest.raises(ValueError, match=message) as e:
        idx.read_idx(path)
    assert str(path) in str(e.value)


def test_broken_gzip(tmp_path):
    path = tmp_path / "broken.gz"
    payload = np.random.default_rng(0).integers(0, 256, 1000, np.uint8)
    raw = gzip.compress(b"\x00\x00\x08\x01\x00\x00\x03\xe8" + payload.tobytes())
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="Corrupt gzip data") as e:
        idx.read_idx(path)
    assert "broken.gz" in str(e.value)


def test_load_split(idx_dir):
    folder, arrays = idx_dir
    for split in ("train", "test"):
        images, labels = idx.load_idx_split(folder, split, 10)
        assert images.shape == arrays[split][0].shape
        assert images.dtype == np.uint8 and labels.dtype == np.int64
        np.testing.assert_array_equal(images, arrays[split][0])
        np.testing.assert_array_equal(labels, arrays[split][1])


def test_label_count_mismatch(tmp_path, idx_dir):
    folder, _ = idx_dir
    write_idx(
        os.path.join(folder, "t10k-labels-idx1-ubyte"), np.zeros(3, np.uint8)
    )
    with pytest.raises(ValueError, match="holds 10 images"):
        idx.load_idx_split(folder, "test", 10)


def test_label_out_of_range(idx_dir):
    folder, _ = idx_dir
    labels = np.full(10, 12, dtype=np.uint8)
    write_idx(os.path.join(folder, "t10k-labels-idx1-ubyte"), labels)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 10\)"):
        idx.load_idx_split(folder, "test", 10)


def test_images_and_labels_swapped(idx_dir):
    folder, _ = idx_dir
    labels = np.zeros(10, dtype=np.uint8)
    write_idx(os.path.join(folder, "t10k-images-idx3-ubyte"), labels)
    with pytest.raises(ValueError, match="expected uint8 images"):
        idx.load_idx_split(folder, "test", 10)


def test_missing_file(idx_dir):
    folder, _ = idx_dir
    os.remove(os.path.join(folder, "t10k-labels-idx1-ubyte"))
    assert idx.missing_idx_files(folder) == ["t10k-labels-idx1-ubyte[.gz]"]
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        idx.load_idx_split(folder, "test", 10)


@requires_debian_fashion_mnist
def test_debian_test_split():
    images, labels = idx.load_idx_split(DEBIAN_FASHION_MNIST, "test", 10)
    assert images.shape == (10000, 28, 28, 1)
    assert images.dtype == np.uint8
    assert 0 < images.mean() < 255
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 1000))
