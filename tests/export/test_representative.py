import numpy as np
import pytest
import tensorflow as tf

from kd_toolkit.export.representative import collect_representative_samples

SHAPE = (None, 8, 8, 1)


def _images(n):
    return np.arange(n * 64, dtype=np.float32).reshape(n, 8, 8, 1)


def test_numpy_array_is_truncated():
    samples = collect_representative_samples(_images(10), SHAPE, 4)
    assert samples.shape == (4, 8, 8, 1) and samples.dtype == np.float32
    np.testing.assert_array_equal(samples, _images(4))


def test_generator_of_single_image_lists():
    def generator():
        for image in _images(5):
            yield [image[None]]

    samples = collect_representative_samples(generator, SHAPE, 200)
    np.testing.assert_array_equal(samples, _images(5))


def test_tf_data_with_labels_batched_and_unbatched():
    x, y = _images(6), np.arange(6)
    batched = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    np.testing.assert_array_equal(
        collect_representative_samples(batched, SHAPE, 5), x[:5]
    )
    unbatched = tf.data.Dataset.from_tensor_slices(x)
    np.testing.assert_array_equal(
        collect_representative_samples(unbatched, SHAPE, 6), x
    )


@pytest.mark.parametrize(
    "data, match",
    [
        (
            np.zeros((3, 28, 28, 1), np.float32),
            r"expected shape \(batch, 8, 8, 1\)\. Received: a sample of shape "
            r"\(3, 28, 28, 1\)",
        ),
        (
            np.zeros((3, 8, 8), np.float32),
            r"Received: a sample of shape \(3, 8, 8\)",
        ),
        (np.zeros((0, 8, 8, 1), np.float32), r"produced no samples"),
        (lambda: iter([{"x": 1}]), r"not dicts"),
    ],
)
def test_bad_representative_data(data, match):
    with pytest.raises(ValueError, match=match):
        collect_representative_samples(data, SHAPE, 10)


def test_bad_type_and_count():
    with pytest.raises(
        TypeError,
        match=r"Received: representative_data of "
        r"type list",
    ):
        collect_representative_samples([1, 2], SHAPE, 10)
    with pytest.raises(ValueError, match=r"Received: representative_samples=0"):
        collect_representative_samples(_images(2), SHAPE, 0)
