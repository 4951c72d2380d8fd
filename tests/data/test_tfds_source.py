"""The TFDS path, offline: `tfds.testing.mock_data` and a real prepared copy.

`mock_data` replaces only what TFDS reads from disk; `tfds.load`, the
builders and the features are the real ones.
"""

import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from kd_toolkit import data
from kd_toolkit.data import tfds_source


@pytest.mark.parametrize(
    "name, shape, classes",
    [("cifar10", (32, 32, 3), 10), ("fashion_mnist", (28, 28, 1), 10)],
)
def test_load_through_mock_data(tmp_path, name, shape, classes):
    with tfds.testing.mock_data(num_examples=10, data_dir=str(tmp_path)):
        raw = tfds_source.load_tfds(name, "train", data_dir=tmp_path)
        ds = data.load(name, "train", 4, source="tfds", data_dir=tmp_path)
        batches = list(ds.as_numpy_iterator())
        x, y = data.load_numpy(
            name, "test", source="tfds", data_dir=tmp_path, limit=7
        )
    image, label = next(iter(raw))
    assert label.dtype.name == "int64"
    assert image.dtype.name == "uint8" and tuple(image.shape) == shape
    assert [b[0].shape for b in batches] == [(4, *shape)] * 2 + [(2, *shape)]
    for images, labels in batches:
        assert images.dtype == np.float32 and labels.dtype == np.int32
        assert images.min() >= 0.0 and images.max() <= 1.0
        assert ((labels >= 0) & (labels < classes)).all()
    assert x.shape == (7, *shape) and x.dtype == np.float32
    assert y.dtype == np.int64 and ((y >= 0) & (y < classes)).all()


def test_auto_falls_back_to_tfds(tmp_path):
    # No IDX files in tmp_path, so "auto" must take the TFDS path.
    with tfds.testing.mock_data(num_examples=5, data_dir=str(tmp_path)):
        ds = data.load(
            "fashion_mnist", "test", 8, data_dir=tmp_path, one_hot=True
        )
        x, y = next(iter(ds))
    assert x.shape == (5, 28, 28, 1) and y.shape == (5, 10)


def test_missing_tfds_data_fails_fast(tmp_path):
    start = time.perf_counter()
    with pytest.raises(tfds_source.TfdsDataNotFoundError) as e:
        data.load("cifar10", source="tfds", data_dir=tmp_path)
    assert time.perf_counter() - start < 30
    message = str(e.value)
    assert f"tfds build cifar10 --data_dir {tmp_path}" in message
    assert "download=True" in message
    assert isinstance(e.value, FileNotFoundError)


def test_prepared_copy_is_read(tmp_path):
    """A real prepared TFDS copy of `cifar10`, written by TFDS itself."""
    # TFDS's download_and_prepare imports it; see docs/data.md.
    pytest.importorskip("importlib_resources")
    import tensorflow as tf

    rng = np.random.default_rng(0)
    splits, arrays = {}, {}
    for split, n in (("train", 6), ("test", 3)):
        images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        labels = np.arange(n) % 10
        arrays[split] = (images, labels)
        splits[split] = tf.data.Dataset.from_tensor_slices(
            {
                "id": [f"{split}_{i}" for i in range(n)],
                "image": images,
                "label": labels,
            }
        )
    builder = tfds.builder("cifar10", data_dir=str(tmp_path))
    tfds.dataset_builders.store_as_tfds_dataset(
        name="cifar10",
        version=str(builder.version),
        features=builder.info.features,
        split_datasets=splits,
        data_dir=str(tmp_path),
        disable_shuffling=True,
    )
    x, y = data.load_numpy("cifar10", "train", data_dir=tmp_path)
    np.testing.assert_allclose(x, arrays["train"][0] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, arrays["train"][1])
    ds = data.load("cifar10", "test", 2, source="tfds", data_dir=tmp_path)
    assert [b[0].shape[0] for b in ds] == [2, 1]


def test_any_tfds_dataset_by_name_and_split_string(tmp_path):
    """A dataset outside the catalog, read through TFDS's own builder."""
    with tfds.testing.mock_data(num_examples=6, data_dir=str(tmp_path)):
        ds = data.from_tfds(
            "beans",
            "train[:50%]",
            data_dir=tmp_path,
            image_size=(16, 16),
            batch_size=4,
            augment=data.AugmentSpec(pad=2, flip=True),
            shuffle=True,
        )
        batches = list(ds.as_numpy_iterator())
    assert ds.class_names == ("angular_leaf_spot", "bean_rust", "healthy")
    assert ds.num_classes == 3
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    assert x.shape[1:] == (16, 16, 3) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert ((y >= 0) & (y < 3)).all()


def test_from_tfds_refuses_an_unknown_name_and_missing_data(tmp_path):
    with pytest.raises(ValueError, match=r"no dataset named 'nope_xyz'"):
        data.from_tfds("nope_xyz", data_dir=tmp_path)
    with pytest.raises(tfds_source.TfdsDataNotFoundError, match="tfds build"):
        data.from_tfds("beans", data_dir=tmp_path, image_size=(8, 8))
