"""Fixtures of the data tests."""

import numpy as np
import pytest

from tests.data.fakes import tiny_images
from tests.data.fakes import write_idx


@pytest.fixture
def idx_dir(tmp_path):
    """A Fashion-MNIST-layout IDX folder: 20 train and 10 test images.

    The train files are gzipped and the test files are not, as both occur.
    """
    folder = tmp_path / "idx"
    folder.mkdir()
    arrays = {}
    for split, prefix, n, ext in (
        ("train", "train", 20, ".gz"),
        ("test", "t10k", 10, ""),
    ):
        images = tiny_images(n, 28, 28, 1, seed=n)
        labels = (np.arange(n) % 10).astype(np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", images[..., 0])
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", labels)
        arrays[split] = (images, labels.astype(np.int64))
    return str(folder), arrays
