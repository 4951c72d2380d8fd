"""Real-data fixtures of the compression tests (Fashion-MNIST, small).

The models are the shipped, fully trained teacher and student
(`kd_toolkit.pretrained`), loaded afresh for every test: the same weights
on every machine and in every test order. A few epochs of training inside
the fixture, as before, gave students between 58% and 75% depending on the
machine, and thresholds that failed at random.
"""

import numpy as np
import pytest

TRAIN_IMAGES = 3000
TEST_IMAGES = 1000
TEACHER = "fashion_mnist_resnet20"
STUDENT = "fashion_mnist_resnet8_kd"


@pytest.fixture(scope="session")
def fmnist():
    """`(train_ds, x_test, y_test)`: 3000 training and 1000 test images.

    The training batches come in a fixed order (no reshuffling state shared
    between the tests that iterate them).
    """
    from kd_toolkit import data

    try:
        x, y = data.load_numpy("fashion_mnist", "test", limit=TEST_IMAGES)
    except FileNotFoundError as error:
        pytest.skip(f"Fashion-MNIST not available: {error}")
    train = data.load(
        "fashion_mnist",
        "train",
        64,
        limit=TRAIN_IMAGES,
        augment=False,
        shuffle=False,
    )
    return train, x, y


@pytest.fixture
def fmnist_pair(fmnist):
    """`(teacher, student)`: the shipped resnet20 teacher and the resnet8
    (width 8) student distilled from it, fresh copies for each test."""
    from kd_toolkit import pretrained

    del fmnist  # skips when the data is missing
    return pretrained.load(TEACHER), pretrained.load(STUDENT)


def accuracy(outputs, labels):
    """Top-1 accuracy in percent."""
    return float(np.mean(np.argmax(outputs, -1) == labels) * 100)
