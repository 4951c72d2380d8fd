"""A warning when the teacher a user hands over is near chance.

A teacher that cannot classify teaches noise, and nothing in a distillation
run fails loudly: the student just ends up worse. Common causes, each seen
in practice: the teacher was never trained or its weights were not loaded;
its batch-norm moving statistics are still near their initial values
(`keras.applications` models use momentum 0.99 to 0.999, so a briefly
trained one is accurate in training mode and near chance in inference
mode); or the data is preprocessed differently from the teacher's training
data (0..255 instead of [0, 1], another normalisation).
"""

import warnings

import numpy as np
import tensorflow as tf
from keras import tree

from kd_toolkit.distiller import teacher_cache

MAX_SAMPLES = 512


def teacher_accuracy(distiller, validation_data, max_samples=MAX_SAMPLES):
    """Teacher top-1 (inference mode) on the first validation examples.

    Returns:
        `(accuracy, number of examples)`, or `(None, 0)` when the labels
        cannot be read (e.g. a generator).
    """
    x, y = _first_examples(validation_data, max_samples)
    if x is None or len(y) == 0:
        return None, 0
    outputs = distiller.teacher(
        tree.map_structure(tf.convert_to_tensor, x), training=False
    )
    predicted = np.argmax(np.asarray(outputs), axis=-1)
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[-1] == distiller.num_classes:
        # A row of zeros is an unlabeled example.
        labels = np.where(
            labels.sum(axis=-1) > 0, np.argmax(labels, axis=-1), -1
        )
    labels = labels.reshape(-1)
    known = labels >= 0  # -1: an unlabeled example
    if not known.any():
        return None, 0
    return (
        float(np.mean(predicted[known] == labels[known])),
        int(known.sum()),
    )


def warn_if_near_chance(distiller, validation_data):
    """Warns, naming the likely causes, if the teacher is near chance.

    "Near chance" is below twice the chance rate `1 / num_classes`.
    """
    accuracy, n = teacher_accuracy(distiller, validation_data)
    if accuracy is None:
        return None
    chance = 1.0 / distiller.num_classes
    if accuracy < 2.0 * chance:
        warnings.warn(
            f"The teacher's top-1 on the first {n} validation examples is "
            f"{100 * accuracy:.1f}% (chance: {100 * chance:.1f}%): it would "
            "teach noise. Likely causes: the teacher is untrained or its "
            "weights were not loaded; its batch-norm moving statistics were "
            "never updated (keras.applications models keep momentum 0.99-"
            "0.999: train longer, or re-estimate the statistics in training "
            "mode); or the inputs are preprocessed differently from its "
            "training data (e.g. 0..255 instead of [0, 1]).",
            stacklevel=3,
        )
    return accuracy


def _first_examples(validation_data, max_samples):
    """`(x, y)`: the first `max_samples` validation inputs (an array, or a
    dict of arrays for a model with named inputs) and labels."""
    if isinstance(validation_data, tf.data.Dataset):
        xs, ys, count = [], [], 0
        for element in validation_data:
            if not isinstance(element, tuple) or len(element) < 2:
                return None, None
            x, _, _ = teacher_cache.split_inputs(element[0])
            xs.append(tree.map_structure(np.asarray, x))
            ys.append(np.asarray(element[1]))
            count += len(ys[-1])
            if count >= max_samples:
                break
        if not xs:
            return None, None
        x = tree.map_structure(
            lambda *parts: np.concatenate(parts)[:max_samples], *xs
        )
        return x, np.concatenate(ys)[:max_samples]
    if isinstance(validation_data, (tuple, list)) and len(validation_data) >= 2:
        x, y = validation_data[0], validation_data[1]
        if y is None:
            return None, None
        x = tree.map_structure(lambda a: np.asarray(a[:max_samples]), x)
        return x, np.asarray(y[:max_samples])
    return None, None
