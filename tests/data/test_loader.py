import numpy as np
import pytest

from kd_toolkit import data
from tests.data.fakes import requires_debian_fashion_mnist
from tests.data.fakes import write_cifar


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    for var in ("KD_TOOLKIT_FASHION_MNIST_DIR", "KD_TOOLKIT_MNIST_DIR"):
        monkeypatch.delenv(var, raising=False)


def _concat(ds):
    batches = list(ds.as_numpy_iterator())
    return (
        np.concatenate([b[0] for b in batches]),
        np.concatenate([b[1] for b in batches]),
    )


@requires_debian_fashion_mnist
def test_real_fashion_mnist_batches_and_limit():
    ds = data.load("fashion_mnist", "test", 32, limit=100, source="local")
    assert ds.element_spec[0].shape.as_list() == [None, 28, 28, 1]
    sizes = [b[0].shape[0] for b in ds]
    assert sizes == [32, 32, 32, 4]
    x, y = data.load_numpy("fashion_mnist", "test", limit=100)
    assert x.shape == (100, 28, 28, 1) and x.dtype == np.float32
    assert y.shape == (100,) and y.dtype == np.int64
    # Test split: no shuffle and no augmentation by default.
    x_ds, y_ds = _concat(ds)
    np.testing.assert_array_equal(x_ds, x)
    np.testing.assert_array_equal(y_ds, y)


@requires_debian_fashion_mnist
def test_real_fashion_mnist_train_is_shuffled_and_augmented():
    x, y = data.load_numpy("fashion_mnist", "train", limit=256)
    plain = data.load(
        "fashion_mnist", "train", 256, limit=256, shuffle=False, augment=False
    )
    augmented = data.load(
        "fashion_mnist", "train", 256, limit=256, shuffle=False
    )
    xp, _ = next(iter(plain))
    xa, ya = next(iter(augmented))
    np.testing.assert_array_equal(xp, x)
    assert xa.shape == x.shape
    assert np.min(xa) >= 0.0 and np.max(xa) <= 1.0
    np.testing.assert_array_equal(ya, y)
    changed = np.any(xa.numpy() != x, axis=(1, 2, 3)).mean()
    assert changed > 0.7
    # Defaults for "train": shuffled (same examples, other order).
    xs, ys = _concat(
        data.load("fashion_mnist", "train", 64, limit=256, augment=False)
    )
    assert not np.array_equal(ys, y)
    np.testing.assert_array_equal(np.sort(ys), np.sort(y))
    np.testing.assert_allclose(xs.sum(), x.sum(), rtol=1e-5)


@requires_debian_fashion_mnist
def test_representative_dataset():
    gen = data.representative_dataset("fashion_mnist", 5)
    samples = list(gen())
    assert len(samples) == 5
    assert all(len(s) == 1 and s[0].shape == (1, 28, 28, 1) for s in samples)
    assert all(s[0].dtype == np.float32 for s in samples)
    x, _ = data.load_numpy("fashion_mnist", "train", limit=5)
    np.testing.assert_array_equal(np.concatenate([s[0] for s in samples]), x)
    assert len(list(gen())) == 5  # Callable again for a second pass.


@pytest.mark.slow
@requires_debian_fashion_mnist
def test_real_fashion_mnist_full():
    x, y = data.load_numpy("fashion_mnist", "train")
    assert x.shape == (60000, 28, 28, 1) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 6000))
    x, y = data.load_numpy("fashion_mnist", "test")
    assert x.shape == (10000, 28, 28, 1)
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 1000))
    ds = data.load("fashion_mnist", "train", 128, one_hot=True)
    count, sums = 0, np.zeros(10)
    for images, labels in ds:
        count += images.shape[0]
        sums += labels.numpy().sum(axis=0)
    assert count == 60000
    np.testing.assert_array_equal(sums, np.full(10, 6000))


def test_local_idx_folder_and_one_hot(idx_dir):
    folder, _ = idx_dir
    ds = data.load(
        "fashion_mnist",
        "train",
        8,
        data_dir=folder,
        one_hot=True,
        drop_remainder=True,
    )
    assert ds.element_spec[1].shape.as_list() == [8, 10]
    batches = list(ds.as_numpy_iterator())
    assert len(batches) == 2
    for _, labels in batches:
        assert labels.dtype == np.float32
        np.testing.assert_array_equal(labels.sum(axis=1), np.ones(8))


def test_env_var_and_data_dir_precedence(monkeypatch, idx_dir, tmp_path):
    folder, arrays = idx_dir
    monkeypatch.setenv("KD_TOOLKIT_FASHION_MNIST_DIR", folder)
    x, y = data.load_numpy("fashion_mnist", "test")
    np.testing.assert_allclose(x * 255.0, arrays["test"][0], atol=1e-4)
    np.testing.assert_array_equal(y, arrays["test"][1])
    with pytest.raises(FileNotFoundError):
        data.load_numpy("fashion_mnist", source="local", data_dir=tmp_path)


def _translations_of(out, image, pad, mirrored):
    padded = np.pad(image, [(pad, pad), (pad, pad), (0, 0)])
    if mirrored:
        padded = padded[:, ::-1]
    height, width = image.shape[:2]
    return any(
        np.array_equal(out, padded[dy : dy + height, dx : dx + width])
        for dy in range(2 * pad + 1)
        for dx in range(2 * pad + 1)
    )


@pytest.mark.parametrize(
    "name, flips", [("mnist", False), ("fashion_mnist", True)]
)
def test_digits_are_never_mirrored(idx_dir, name, flips):
    folder, arrays = idx_dir
    ds = data.load(name, "train", 20, data_dir=folder, shuffle=False)
    x, _ = next(iter(ds))
    out = np.round(x.numpy() * 255).astype(np.uint8)
    images = arrays["train"][0]
    shifted = [
        _translations_of(o, i, 2, False)
        for o, i in zip(out, images, strict=True)
    ]
    mirrored = [
        _translations_of(o, i, 2, True)
        for o, i in zip(out, images, strict=True)
    ]
    assert all(s or m for s, m in zip(shifted, mirrored, strict=True))
    assert any(mirrored) == flips


@pytest.mark.parametrize("archive", [True, False])
def test_cifar_archive_through_load(tmp_path, archive):
    path, arrays = write_cifar(str(tmp_path), "cifar10", archive=archive)
    x, y = data.load_numpy("cifar10", "train", data_dir=path)
    assert x.shape == (15, 32, 32, 3)
    np.testing.assert_allclose(x * 255.0, arrays["train"][0], atol=1e-4)
    np.testing.assert_array_equal(y, arrays["train"][1])
    ds = data.load("cifar10", "train", 4, data_dir=str(tmp_path), limit=10)
    xs, ys = _concat(ds)
    assert xs.shape == (10, 32, 32, 3) and ys.dtype == np.int32
    np.testing.assert_array_equal(np.sort(ys), np.sort(arrays["train"][1][:10]))


def test_cifar100_fine_labels(tmp_path):
    path, arrays = write_cifar(str(tmp_path), "cifar100", archive=True)
    _, y = data.load_numpy("cifar100", "test", source="local", data_dir=path)
    np.testing.assert_array_equal(y, arrays["test"][1])


@pytest.mark.parametrize(
    "name, source, hints",
    [
        (
            "fashion_mnist",
            "auto",
            ["sudo apt-get install dataset-fashion-mnist", "tfds build"],
        ),
        (
            "fashion_mnist",
            "local",
            ["sudo apt-get install dataset-fashion-mnist"],
        ),
        ("cifar10", "local", ["cifar-10-python.tar.gz"]),
        ("cifar100", "auto", ["cifar-100-python.tar.gz", "tfds build"]),
        ("mnist", "auto", ["KD_TOOLKIT_MNIST_DIR", "tfds build mnist"]),
    ],
)
def test_missing_data_says_how_to_get_it(tmp_path, name, source, hints):
    with pytest.raises(FileNotFoundError) as e:
        data.load(name, source=source, data_dir=tmp_path)
    for hint in hints:
        assert hint in str(e.value)
    assert str(tmp_path) in str(e.value)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "foo"}, r"Expected one of \[.*\]\. Received: name='foo'$"),
        (
            {"split": "validation"},
            r"\['train', 'test'\]\. Received: split='validation'$",
        ),
        (
            {"source": "web"},
            r"\['auto', 'tfds', 'local'\]\. Received: source='web'$",
        ),
        ({"batch_size": 0}, r"int >= 1\. Received: batch_size=0$"),
        ({"limit": 0}, r"Received: limit=0$"),
        ({"seed": -1}, r"int >= 0\. Received: seed=-1$"),
        ({"augment": "yes"}, r"bool or None\. Received: augment='yes'$"),
        ({"shuffle": 1}, r"Received: shuffle=1$"),
        ({"one_hot": None}, r"must be a bool\. Received: one_hot=None$"),
        ({"download": "no"}, r"Received: download='no'$"),
        ({"data_dir": 3}, r"Received: data_dir=3$"),
    ],
)
def test_bad_arguments(kwargs, match):
    kwargs = {"name": "fashion_mnist", **kwargs}
    with pytest.raises(ValueError, match=match):
        data.load(**kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"batch_size": 2.5}, r"Received: batch_size=2\.5 of type float$"),
        ({"batch_size": True}, r"Received: batch_size=True of type bool$"),
        ({"limit": "10"}, r"Received: limit='10' of type str$"),
    ],
)
def test_arguments_of_the_wrong_type(kwargs, match):
    with pytest.raises(TypeError, match=match):
        data.load(name="fashion_mnist", **kwargs)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: data.load_numpy("foo"), "Received: name='foo'"),
        (lambda: data.load_numpy("mnist", "val"), "Received: split='val'"),
        (lambda: data.load_numpy("mnist", limit=-3), "Received: limit=-3"),
        (
            lambda: data.representative_dataset("mnist", 0),
            "Received: num_samples=0",
        ),
    ],
)
def test_bad_arguments_numpy(call, match):
    with pytest.raises(ValueError, match=match):
        call()
