"""A folder of JPEG/PNG images: labels from class folders, or none."""

import numpy as np
import pytest

from kd_toolkit import data
from tests.data.image_files import class_folder
from tests.data.image_files import unlabeled_folder
from tests.data.image_files import write_image


def test_class_folders_give_labels_in_sorted_order(tmp_path):
    written = class_folder(tmp_path)
    folder = data.ImageFolder(tmp_path, image_size=(12, 10))
    assert folder.class_names == ("cat", "dog")
    assert folder.files == tuple(sorted(written))
    assert folder.labels.tolist() == [
        ("cat", "dog").index(written[f][1]) for f in folder.files
    ]
    assert folder.input_shape == (12, 10, 3)


def test_batches_follow_the_load_contract(tmp_path):
    written = class_folder(tmp_path)
    ds = data.from_directory(tmp_path, image_size=(12, 10), batch_size=4)
    assert ds.class_names == ("cat", "dog")
    batches = list(ds.as_numpy_iterator())
    assert [b[0].shape for b in batches] == [(4, 12, 10, 3), (2, 12, 10, 3)]
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    assert x.dtype == np.float32 and y.dtype == np.int32
    for i, name in enumerate(ds.file_paths):
        image, label = written[name]
        assert y[i] == ("cat", "dog").index(label)
        if name.endswith(".png"):  # lossless: the pixels come back exactly
            np.testing.assert_allclose(x[i], image / 255.0, atol=1e-6)
        else:  # JPEG is lossy
            assert np.abs(x[i] - image / 255.0).mean() < 0.2


def test_resizing_grayscale_one_hot_and_augmentation(tmp_path):
    class_folder(tmp_path, size=(20, 16))
    ds = data.from_directory(
        tmp_path,
        image_size=(8, 8),
        channels=1,
        one_hot=True,
        augment=data.AugmentSpec(pad=1, flip=True),
        shuffle=True,
        seed=3,
        batch_size=6,
    )
    x, y = next(iter(ds))
    assert x.shape == (6, 8, 8, 1) and y.shape == (6, 2)
    again = next(iter(ds))
    assert not np.array_equal(x.numpy(), again[0].numpy())  # new epoch draw


def test_an_unlabeled_folder_gives_images_only(tmp_path):
    n = unlabeled_folder(tmp_path)
    ds = data.from_directory(tmp_path, image_size=(6, 6), labels=None)
    assert ds.class_names is None
    (batch,) = list(ds.as_numpy_iterator())
    assert batch.shape == (n, 6, 6, 3)


def test_the_fingerprint_follows_the_manifest(tmp_path):
    class_folder(tmp_path)
    first = data.ImageFolder(tmp_path, (12, 10)).fingerprint()
    assert data.ImageFolder(tmp_path, (12, 10)).fingerprint() == first
    assert data.ImageFolder(tmp_path, (8, 8)).fingerprint() != first
    write_image(tmp_path / "dog" / "new.png", np.zeros((4, 4, 3), np.uint8))
    assert data.ImageFolder(tmp_path, (12, 10)).fingerprint() != first


def test_an_undecodable_file_is_named(tmp_path):
    class_folder(tmp_path)
    (tmp_path / "cat" / "broken.png").write_bytes(b"\x89PNG not really")
    folder = data.ImageFolder(tmp_path, (12, 10))
    with pytest.raises(ValueError, match=r"1 file\(s\).*\['cat/broken\.png'\]"):
        folder.verify()


@pytest.mark.parametrize(
    "setup, kwargs, error, match",
    [
        (None, {"image_size": (8, 8)}, FileNotFoundError, r"\(missing\)"),
        ("classes", {"image_size": 8}, ValueError, r"Received: image_size=8"),
        ("classes", {"image_size": (8, 0)}, ValueError, r"two ints >= 1"),
        (
            "classes",
            {"image_size": (8, 8), "labels": "folders"},
            ValueError,
            r"one of \['inferred', None\]. Received: labels='folders'",
        ),
        (
            "classes",
            {"image_size": (8, 8), "channels": 4},
            ValueError,
            r"Received: channels=4",
        ),
        (
            "classes",
            {"image_size": (8, 8), "class_names": ["cat", "cow"]},
            ValueError,
            r"exactly the class subfolders \['cat', 'dog'\]",
        ),
        ("empty", {"image_size": (8, 8)}, ValueError, r"one subfolder per"),
        (
            "empty",
            {"image_size": (8, 8), "labels": None},
            ValueError,
            r"No images",
        ),
        (
            "empty class",
            {"image_size": (8, 8)},
            ValueError,
            r"class folder 'bird' holds no images",
        ),
    ],
)
def test_bad_folders_and_arguments(tmp_path, setup, kwargs, error, match):
    root = tmp_path / "data"
    if setup is not None:
        root.mkdir()
    if setup in ("classes", "empty class"):
        class_folder(root)
    if setup == "empty class":
        (root / "bird").mkdir()
    with pytest.raises(error, match=match):
        data.ImageFolder(root, **kwargs)
