import numpy as np
import pytest
import tensorflow as tf

from kd_toolkit.data import batching
from kd_toolkit.data import catalog
from tests.data.fakes import tiny_images


def _placements(out, image, pad):
    """(dy, dx, mirrored) of every shifted crop of `image` equal to `out`."""
    padded = np.pad(image, [(pad, pad), (pad, pad), (0, 0)])
    height, width = image.shape[:2]
    found = []
    for dy in range(2 * pad + 1):
        for dx in range(2 * pad + 1):
            crop = padded[dy : dy + height, dx : dx + width]
            for mirrored, candidate in ((False, crop), (True, crop[:, ::-1])):
                if np.array_equal(out, candidate):
                    found.append((dy, dx, mirrored))
    return found


@pytest.mark.parametrize("pad, flip", [(2, False), (2, True), (4, True)])
def test_augment_batch_is_a_shifted_crop(pad, flip):
    images = tiny_images(64, 12, 10, 3, seed=1)
    out = batching.augment_batch(
        tf.constant(images), tf.constant([3, 4]), pad, flip
    ).numpy()
    assert out.shape == images.shape and out.dtype == np.uint8
    placements = [
        _placements(o, i, pad) for o, i in zip(out, images, strict=True)
    ]
    assert all(len(p) == 1 for p in placements), placements
    offsets = {p[0][:2] for p in placements}
    mirrored = [p[0][2] for p in placements]
    # Offsets vary per image and cover the range.
    assert len(offsets) > 5
    assert {dy for dy, _ in offsets} == set(range(2 * pad + 1))
    if flip:
        assert 10 < sum(mirrored) < 54
    else:
        assert not any(mirrored)


def test_augment_batch_is_a_function_of_the_seed():
    images = tf.constant(tiny_images(16, 8, 8, 1, seed=2))
    a = batching.augment_batch(images, tf.constant([1, 2]), 2, True)
    b = batching.augment_batch(images, tf.constant([1, 2]), 2, True)
    c = batching.augment_batch(images, tf.constant([1, 3]), 2, True)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def _examples(n=10):
    images = tiny_images(n, 6, 6, 1, seed=3)
    labels = np.arange(n) % 4
    return images, labels, tf.data.Dataset.from_tensor_slices((images, labels))


def test_build_without_augmentation_scales_exactly():
    images, labels, ds = _examples()
    out = batching.build(ds, num_classes=4, batch_size=4)
    batches = list(out.as_numpy_iterator())
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    assert x.dtype == np.float32 and y.dtype == np.int32
    np.testing.assert_allclose(x, images / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, labels)


def test_build_one_hot_drop_remainder_and_static_batch():
    _, labels, ds = _examples()
    out = batching.build(
        ds,
        num_classes=4,
        batch_size=4,
        augment_spec=catalog.AugmentSpec(pad=1, flip=True),
        one_hot=True,
        drop_remainder=True,
    )
    assert out.element_spec[0].shape.as_list() == [4, 6, 6, 1]
    assert out.element_spec[1].shape.as_list() == [4, 4]
    batches = list(out.as_numpy_iterator())
    assert len(batches) == 2
    y = np.concatenate([b[1] for b in batches])
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, np.eye(4)[labels[:8]])


def test_shuffle_is_seeded_and_reshuffles_each_epoch():
    _, _, ds = _examples(32)

    def epochs(seed):
        out = batching.build(
            ds, num_classes=4, batch_size=32, shuffle_buffer=32, seed=seed
        )
        return [next(iter(out))[0].numpy() for _ in range(2)]

    first, again, other = epochs(0), epochs(0), epochs(1)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], first[1])
    assert not np.array_equal(first[0], other[0])
    # A shuffle permutes: same images, other order.
    np.testing.assert_allclose(
        np.sort(first[0].ravel()), np.sort(first[1].ravel())
    )
