"""Building blocks shared by the distillation recipe and the benchmarks:
a seeded zoo model, the cosine-decay Adam optimizer and an evaluation of
a logit model's top-1 accuracy and cross-entropy."""

import keras
import tensorflow as tf

from kd_toolkit import models


def build_model(arch, input_shape, num_classes, width=None, seed=0):
    """A zoo model initialised from `seed` (same seed, same weights).

    Args:
        arch: zoo name (`kd_toolkit.models.names()`).
        input_shape: image shape, e.g. `(28, 28, 1)`.
        num_classes: number of logits.
        width: optional `base_width` of a ResNet (None: the zoo default).
        seed: seed of the initialisation.
    """
    keras.utils.set_random_seed(seed)
    kwargs = {} if width is None else {"base_width": width}
    return models.get(
        arch, input_shape=input_shape, num_classes=num_classes, **kwargs
    )


def cosine_adam(learning_rate, steps):
    """Adam whose learning rate decays from `learning_rate` to zero over
    `steps` steps (cosine)."""
    return keras.optimizers.Adam(
        keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps=max(1, steps)
        )
    )


def hard_label_loss():
    """Cross-entropy of integer labels against logits."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@tf.function(reduce_retracing=True)
def _predict(model, x):
    return model(x, training=False)


def evaluate(model, ds):
    """Top-1 accuracy and mean cross-entropy of a logit model.

    Args:
        model: a model whose outputs are logits.
        ds: batches `(x, y)` with integer labels.

    Returns:
        `(accuracy, cross_entropy)`; `(0.0, 0.0)` for an empty dataset.
    """
    correct, ce, n = 0, 0.0, 0
    for x, y in ds:
        logits = _predict(model, x)
        y = tf.cast(y, "int32")
        correct += int(
            tf.reduce_sum(
                tf.cast(
                    tf.argmax(logits, -1, output_type="int32") == y, "int32"
                )
            )
        )
        ce += float(
            tf.reduce_sum(
                tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
            )
        )
        n += int(tf.shape(y)[0])
    return correct / max(n, 1), ce / max(n, 1)
