import dataclasses

import pytest

from kd_toolkit import data
from kd_toolkit.data import catalog


def test_names_are_sorted_and_complete():
    assert data.names() == ["cifar10", "cifar100", "fashion_mnist", "mnist"]


@pytest.mark.parametrize(
    "name, shape, classes, train, test",
    [
        ("cifar10", (32, 32, 3), 10, 50000, 10000),
        ("cifar100", (32, 32, 3), 100, 50000, 10000),
        ("fashion_mnist", (28, 28, 1), 10, 60000, 10000),
        ("mnist", (28, 28, 1), 10, 60000, 10000),
    ],
)
def test_dataset_info(name, shape, classes, train, test):
    info = data.dataset_info(name)
    assert isinstance(info, data.DatasetInfo)
    assert info.name == name
    assert info.input_shape == shape
    assert info.num_classes == classes
    assert len(info.class_names) == classes
    assert len(set(info.class_names)) == classes
    assert (info.num_train, info.num_test) == (train, test)
    assert info.num_examples("train") == train
    assert info.num_examples("test") == test


def test_class_names_follow_label_order():
    assert data.dataset_info("fashion_mnist").class_names[9] == "Ankle boot"
    assert data.dataset_info("cifar10").class_names[0] == "airplane"
    fine = data.dataset_info("cifar100").class_names
    # The CIFAR-100 fine labels are numbered in alphabetical order.
    assert list(fine) == sorted(fine)
    assert fine[:2] == ("apple", "aquarium_fish")


def test_dataset_info_is_frozen():
    info = data.dataset_info("mnist")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.num_classes = 3


def test_digits_are_never_flipped():
    assert catalog.augment_spec("mnist") == catalog.AugmentSpec(2, False)
    assert catalog.augment_spec("fashion_mnist") == catalog.AugmentSpec(2, True)
    assert catalog.augment_spec("cifar10") == catalog.AugmentSpec(4, True)


@pytest.mark.parametrize("bad", ["foo", "CIFAR10", "", None, 3])
def test_unknown_name(bad):
    with pytest.raises(ValueError, match=r"Expected one of \['cifar10'") as e:
        data.dataset_info(bad)
    assert str(e.value).endswith(f"Received: name={bad!r}")
