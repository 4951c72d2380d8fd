"""Input pipeline: cache, shuffle, augment and scale, batch, prefetch."""

import tensorflow as tf


def augment_image(image, seed, pad, flip):
    """Pads, randomly crops back and optionally flips one image.

    Stateless random ops make the result a pure function of `seed`, so a
    pipeline built with the same seed yields the same images.

    Args:
        image: uint8 tensor `(H, W, C)` with a static shape.
        seed: int tensor of shape `(2,)`.
        pad: int. Zero padding on each side before the crop.
        flip: bool. Whether to flip left-right with probability 1/2.

    Returns:
        The augmented image, same shape and dtype as `image`.
    """
    crop_seed, flip_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, num=2)
    )
    if pad > 0:
        padded = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
        image = tf.image.stateless_random_crop(
            padded, image.shape.as_list(), seed=crop_seed
        )
    if flip:
        image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
    return image


def build(
    dataset,
    *,
    num_classes,
    batch_size,
    augment_spec=None,
    shuffle_buffer=0,
    seed=0,
    one_hot=False,
    drop_remainder=False,
    cache=False,
):
    """Turns `(uint8 image, int label)` examples into training batches.

    Order: cache (optional) → shuffle (optional) → map (augment, scale to
    `[0, 1]`, cast labels) with `AUTOTUNE` parallelism → batch → prefetch.

    Args:
        dataset: `tf.data.Dataset` of `(uint8 (H, W, C), int label)`.
        num_classes: int. Depth of one-hot labels.
        batch_size: int >= 1.
        augment_spec: `AugmentSpec` or None. None turns augmentation off.
        shuffle_buffer: int. 0 turns shuffling off.
        seed: int. Seeds the shuffle and the augmentation; each epoch
            draws new (but reproducible) orders and crops.
        one_hot: bool. One-hot float32 labels instead of int32 ids.
        drop_remainder: bool. Drop the last, smaller batch.
        cache: bool. Cache the decoded examples in memory first.

    Returns:
        A `tf.data.Dataset` of `(float32 (B, H, W, C), labels)`.
    """
    if cache:
        dataset = dataset.cache()
    if shuffle_buffer > 0:
        dataset = dataset.shuffle(
            shuffle_buffer, seed=seed, reshuffle_each_iteration=True
        )

    def finish(image, label):
        image = tf.cast(image, tf.float32) / 255.0
        if one_hot:
            return image, tf.one_hot(label, num_classes, dtype=tf.float32)
        return image, tf.cast(label, tf.int32)

    if augment_spec is None:
        dataset = dataset.map(finish, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        seeds = tf.data.Dataset.random(
            seed=seed, rerandomize_each_iteration=True
        ).batch(2)

        def augment_and_finish(example, pair):
            image = augment_image(
                example[0], pair, augment_spec.pad, augment_spec.flip
            )
            return finish(image, example[1])

        dataset = tf.data.Dataset.zip((dataset, seeds)).map(
            augment_and_finish, num_parallel_calls=tf.data.AUTOTUNE
        )
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    return dataset.prefetch(tf.data.AUTOTUNE)
