"""Builds `LossInputs` from numpy arrays for loss unit tests."""

import keras
import numpy as np

from kd_toolkit.losses import LossInputs


def make_inputs(
    teacher_logits=None,
    student_logits=None,
    labels=None,
    teacher_features=None,
    student_features=None,
):
    def f32(v):
        return None if v is None else np.asarray(v, dtype="float32")

    return LossInputs(
        labels=f32(labels),
        teacher_logits=f32(teacher_logits),
        student_logits=f32(student_logits),
        teacher_features={
            k: f32(v) for k, v in (teacher_features or {}).items()
        },
        student_features={
            k: f32(v) for k, v in (student_features or {}).items()
        },
        training=False,
    )


def pooled_net(name, filters):
    """A conv net on 8x8x1 images whose pooled embedding is layer `feat`,
    with weights seeded by `filters`."""
    keras.utils.set_random_seed(filters)
    i = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(filters, 3, padding="same")(i)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D(name="feat")(x)
    return keras.Model(i, keras.layers.Dense(3)(x), name=name)
