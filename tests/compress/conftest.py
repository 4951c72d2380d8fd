"""Real-data fixtures of the compression tests (Fashion-MNIST, small)."""

import keras
import numpy as np
import pytest

TRAIN_IMAGES = 3000
TEST_IMAGES = 1000


@pytest.fixture(scope="session")
def fmnist():
    """`(train_ds, x_test, y_test)`: 3000 training and 1000 test images."""
    from kd_toolkit import data

    try:
        x, y = data.load_numpy("fashion_mnist", "test", limit=TEST_IMAGES)
    except FileNotFoundError as error:
        pytest.skip(f"Fashion-MNIST not available: {error}")
    train = data.load("fashion_mnist", "train", 64, limit=TRAIN_IMAGES,
                      augment=False, shuffle=True, seed=0)
    return train, x, y


@pytest.fixture(scope="session")
def fmnist_pair(fmnist):
    """`(teacher, student)`: resnet8 at widths 16 (2 epochs) and 8 (3)."""
    from kd_toolkit import models

    train, _, _ = fmnist
    keras.utils.set_random_seed(0)
    pair = []
    for width, epochs in ((16, 2), (8, 3)):
        model = models.get("resnet8", input_shape=(28, 28, 1),
                           base_width=width)
        model.compile(
            keras.optimizers.Adam(3e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(train, epochs=epochs, verbose=0)
        pair.append(model)
    return tuple(pair)


def accuracy(outputs, labels):
    """Top-1 accuracy in percent."""
    return float(np.mean(np.argmax(outputs, -1) == labels) * 100)
