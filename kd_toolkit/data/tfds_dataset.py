"""Any prepared TFDS image-classification dataset, by name and split string.

`kd_toolkit.data.load` knows four datasets with their augmentation;
`from_tfds` reads any dataset tensorflow-datasets has prepared offline
(`tfds build NAME --data_dir DIR` on a machine with network, then copy
DIR), with any split string (`"train[:90%]"`), resized to one image size,
in the batch contract of `load`.
"""

import tensorflow as tf

from kd_toolkit.data import batching
from kd_toolkit.data import tfds_source
from kd_toolkit.data.catalog import check_augment
from kd_toolkit.data.image_folder import check_image_size
from kd_toolkit.utils import validation


def from_tfds(
    name,
    split="train",
    *,
    data_dir=None,
    image_size=None,
    batch_size=128,
    augment=None,
    shuffle=False,
    seed=0,
    one_hot=False,
    drop_remainder=False,
    download=False,
):
    """Batches of a TFDS dataset with `image` and `label` features.

    Args:
        name: str. A TFDS dataset name (`"beans"`, `"oxford_flowers102"`).
        split: str. A TFDS split string: `"train"`, `"test[:50%]"`, ...
        data_dir: TFDS data folder, or None for TFDS's default.
        image_size: `(H, W)` or None. Resize every image (bilinear); needed
            when the dataset's images vary in size.
        batch_size: int >= 1.
        augment: `AugmentSpec` or None.
        shuffle: bool. Shuffle the examples (a buffer of 10,000 decoded
            examples) each epoch.
        seed: int >= 0. Seeds the order and the augmentation.
        one_hot: bool. One-hot float32 labels.
        drop_remainder: bool.
        download: bool. Let TFDS download and prepare missing data.

    Returns:
        A `tf.data.Dataset` of `(float32 images in [0, 1], labels)`; it
        carries `class_names` (the label feature's names) and `num_classes`.

    Raises:
        TfdsDataNotFoundError: if the data is not prepared (with how to
            prepare it).
        ValueError: for a bad argument, or a dataset without an image and
            a class-label feature, or images of varying size without
            `image_size`.

    Example:

    ```python
    train = kd_toolkit.data.from_tfds(
        "beans", "train", data_dir="tfds", image_size=(128, 128),
        shuffle=True, augment=kd_toolkit.data.AugmentSpec(pad=16, flip=True))
    ```
    """
    batch_size = validation.check_int("batch_size", batch_size, 1)
    seed = validation.check_int("seed", seed, 0)
    if image_size is not None:
        image_size = check_image_size(image_size)
    check_augment(augment)
    tfds = tfds_source._import_tfds()
    try:
        builder = tfds.builder(
            name, data_dir=None if data_dir is None else str(data_dir)
        )
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(
            f"TFDS has no dataset named {name!r}. Received: name={name!r}"
        ) from error
    features = builder.info.features
    names = set(features.keys())
    label = features["label"] if "label" in names else None
    if "image" not in names or not isinstance(label, tfds.features.ClassLabel):
        raise ValueError(
            "`from_tfds` reads image-classification datasets (an `image` and "
            f"a class `label` feature); {name!r} has "
            f"{sorted(features.keys())}. Received: name={name!r}"
        )
    shape = tuple(features["image"].shape)
    if image_size is None and None in shape[:2]:
        raise ValueError(
            f"The images of {name!r} vary in size {shape}: pass image_size="
            f"(H, W). Received: image_size=None"
        )
    dataset = tfds_source.load_tfds(name, split, data_dir, download)

    def resize(image, y):
        if image_size is not None:
            image = tf.image.resize(image, image_size, method="bilinear")
            image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
        return image, y

    dataset = dataset.map(resize, num_parallel_calls=tf.data.AUTOTUNE)
    batches = batching.build(
        dataset,
        num_classes=label.num_classes,
        batch_size=batch_size,
        augment_spec=augment,
        shuffle_buffer=10_000 if shuffle else 0,
        seed=seed,
        one_hot=one_hot,
        drop_remainder=drop_remainder,
    )
    batches.class_names = tuple(label.names)
    batches.num_classes = label.num_classes
    return batches
