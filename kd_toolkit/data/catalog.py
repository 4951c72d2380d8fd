"""The named datasets kd_toolkit knows: shapes, classes and sizes."""

import dataclasses

from kd_toolkit.utils.registry import Registry

SPLITS = ("train", "test")
# The class id of an example without a label (label-free and
# semi-supervised distillation); a one-hot row of zeros means the same.
UNLABELED = -1
SOURCES = ("auto", "tfds", "local")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a named dataset.

    Args:
        name: str. The name used by `kd_toolkit.data.load`.
        input_shape: tuple of int. Shape of one image, `(H, W, C)`.
        num_classes: int. Number of label classes.
        class_names: tuple of str. Human-readable name of each class, in
            label order.
        num_train: int. Number of examples in the full train split.
        num_test: int. Number of examples in the full test split.

    Example:

    ```python
    info = kd_toolkit.data.dataset_info("fashion_mnist")
    info.input_shape  # (28, 28, 1)
    ```
    """

    name: str
    input_shape: tuple
    num_classes: int
    class_names: tuple
    num_train: int
    num_test: int

    def num_examples(self, split):
        """Number of examples in `split` (`"train"` or `"test"`)."""
        return self.num_train if split == "train" else self.num_test


@dataclasses.dataclass(frozen=True)
class AugmentSpec:
    """The standard training augmentation of a dataset.

    Args:
        pad: int. Zero padding on each side before the random crop back to
            the original size.
        flip: bool. Whether a random horizontal flip is applied.
    """

    pad: int
    flip: bool


@dataclasses.dataclass(frozen=True)
class ResizedCropSpec:
    """Random-resized-crop + flip, the ImageNet-style augmentation.

    Each view crops a box covering a fraction `scale` of the image area,
    of aspect ratio (width / height) in `ratio` (drawn log-uniformly),
    then resizes it back to the image size (bilinear).

    Args:
        scale: `(low, high)` in (0, 1]. Defaults to `(0.08, 1.0)`.
        ratio: `(low, high)`, > 0. Defaults to `(3 / 4, 4 / 3)`.
        flip: bool. A random horizontal flip. Defaults to `True`.

    Raises:
        ValueError: for bounds out of range or out of order.
    """

    scale: tuple = (0.08, 1.0)
    ratio: tuple = (3 / 4, 4 / 3)
    flip: bool = True

    def __post_init__(self):
        lo, hi = (float(v) for v in self.scale)
        if not 0 < lo <= hi <= 1:
            raise ValueError(
                "`scale` must be (low, high) with 0 < low <= high <= 1. "
                f"Received: scale={self.scale!r}"
            )
        lo, hi = (float(v) for v in self.ratio)
        if not 0 < lo <= hi:
            raise ValueError(
                "`ratio` must be (low, high) with 0 < low <= high. "
                f"Received: ratio={self.ratio!r}"
            )


_CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip

_CIFAR100_CLASSES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee",
    "beetle", "bicycle", "bottle", "bowl", "boy", "bridge", "bus",
    "butterfly", "camel", "can", "castle", "caterpillar", "cattle", "chair",
    "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab",
    "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish",
    "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man",
    "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree",
    "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck",
    "pine_tree", "plain", "plate", "poppy", "porcupine", "possum", "rabbit",
    "raccoon", "ray", "road", "rocket", "rose", "sea", "seal", "shark",
    "shrew", "skunk", "skyscraper", "snail", "snake", "spider", "squirrel",
    "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone",
    "television", "tiger", "tractor", "train", "trout", "tulip", "turtle",
    "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)  # fmt: skip

_FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

_MNIST_CLASSES = tuple(str(i) for i in range(10))

_INFO = {
    "cifar10": DatasetInfo(
        "cifar10", (32, 32, 3), 10, _CIFAR10_CLASSES, 50000, 10000
    ),
    "cifar100": DatasetInfo(
        "cifar100", (32, 32, 3), 100, _CIFAR100_CLASSES, 50000, 10000
    ),
    "fashion_mnist": DatasetInfo(
        "fashion_mnist", (28, 28, 1), 10, _FASHION_MNIST_CLASSES, 60000, 10000
    ),
    "mnist": DatasetInfo(
        "mnist", (28, 28, 1), 10, _MNIST_CLASSES, 60000, 10000
    ),
}

_CATALOG = Registry("dataset name", "name")
for _name, _info in _INFO.items():
    _CATALOG.register(_name, _info)

# Digits must never be mirrored; clothes and CIFAR objects may be.
_AUGMENT = {
    "cifar10": AugmentSpec(pad=4, flip=True),
    "cifar100": AugmentSpec(pad=4, flip=True),
    "fashion_mnist": AugmentSpec(pad=2, flip=True),
    "mnist": AugmentSpec(pad=2, flip=False),
}


def names():
    """Sorted list of the dataset names `kd_toolkit.data.load` accepts."""
    return _CATALOG.names()


def dataset_info(name):
    """Returns the `DatasetInfo` of a named dataset.

    Args:
        name: str. One of `kd_toolkit.data.names()`.

    Returns:
        A frozen `DatasetInfo`.

    Raises:
        ValueError: if `name` is not a known dataset.

    Example:

    ```python
    kd_toolkit.data.dataset_info("cifar10").num_classes  # 10
    ```
    """
    return _CATALOG.get(name)


def check_augment(augment):
    """`augment` if it is an `AugmentSpec` or None.

    Raises:
        ValueError: for anything else, naming it.
    """
    if augment is not None and not isinstance(augment, AugmentSpec):
        raise ValueError(
            "`augment` must be a kd_toolkit.data.AugmentSpec or None. "
            f"Received: augment={augment!r}"
        )
    return augment


def augment_spec(name):
    """Returns the `AugmentSpec` of a named dataset."""
    return _AUGMENT[_CATALOG.get(name).name]
