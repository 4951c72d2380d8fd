"""Fixtures of the export tests: tiny synthetic models, a real student."""

import keras
import numpy as np
import pytest

from tests.export import helpers


@pytest.fixture(scope="session")
def tiny_model():
    keras.utils.set_random_seed(1)
    return helpers.tiny_cnn()


@pytest.fixture(scope="session")
def tiny_data():
    return helpers.tiny_data()


@pytest.fixture(scope="session")
def fashion_student():
    """A small CNN trained 1 epoch on 4000 real Fashion-MNIST images.

    Returns `(model, (x_test, y_test))` with the first test images.
    """
    from kd_toolkit import data
    from kd_toolkit import models

    keras.utils.set_random_seed(0)
    x, y = data.load_numpy(
        "fashion_mnist", split="train", limit=helpers.REAL_TRAIN_IMAGES
    )
    model = models.simple_cnn(filters=helpers.REAL_FILTERS)
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    x_test, y_test = data.load_numpy(
        "fashion_mnist", split="test", limit=helpers.REAL_EVAL_IMAGES
    )
    return model, (np.asarray(x_test, np.float32), np.asarray(y_test))
