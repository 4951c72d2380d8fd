"""Checks of what `Distiller.fit` is given, before any step runs.

Each one turns a mistake that would otherwise train on garbage or fail deep
inside Keras into a clear error (or, where the input can be legitimate, a
warning):

- integer (e.g. uint8, 0..255) images for models that take floats in
  `[0, 1]`, the convention of `kd_toolkit.data`: a teacher probed this way
  fell from 59.5% to 33.4% top-1 and the KD term grew 15-fold;
- one-hot labels with a sparse cross-entropy passed to `compile`.
"""

import warnings

import keras
import numpy as np
import tensorflow as tf

from kd_toolkit.distiller import teacher_cache
from kd_toolkit.utils import compat


def check_inputs(x, y, distiller):
    """Raises or warns on inputs that break the data convention.

    Args:
        x: what `fit` got as `x` (arrays, a `tf.data.Dataset`, ...).
        y: what `fit` got as `y`, or None.
        distiller: the `Distiller` (its models and compiled loss).

    Raises:
        ValueError: for integer images when neither model rescales its
            input, or one-hot labels with a sparse student loss.
    """
    x_dtype, y_shape = _input_dtype_and_label_shape(x, y)
    rescales = _rescales(distiller.teacher) or _rescales(distiller.student)
    if x_dtype is not None and x_dtype.is_integer and not rescales:
        raise ValueError(
            "The images are integers (e.g. uint8 in 0..255), but the teacher "
            "and student have no Rescaling layer: kd_toolkit models and "
            "kd_toolkit.data use float32 images in [0, 1]. Divide by 255 (or "
            "load with kd_toolkit.data.load), or add keras.layers.Rescaling("
            f"1 / 255) to both models. Received: x of dtype {x_dtype.name}"
        )
    if (
        isinstance(x, np.ndarray)
        and np.issubdtype(x.dtype, np.floating)
        and x.size
        and not rescales
    ):
        sample = x.reshape(-1)[:100_000]
        if float(np.max(sample)) > 2.0:
            warnings.warn(
                f"The images reach {float(np.max(sample)):.1f}, but "
                "kd_toolkit models expect floats in [0, 1] (kd_toolkit.data "
                "scales them). Divide by 255 unless the models were trained "
                "on this range.",
                stacklevel=3,
            )
    if (
        y_shape is not None
        and _is_sparse(distiller._assembly.student_loss_fn)
        and (
            len(y_shape) == 2
            and y_shape[-1] == distiller.num_classes
            and distiller.num_classes > 1
        )
    ):
        raise ValueError(
            "The labels are one-hot rows but `compile(loss=...)` is a sparse "
            "cross-entropy, which takes class ids. Pass loss=None (the "
            "Distiller matches the cross-entropy to the labels), a "
            "CategoricalCrossentropy, or integer labels. Received: labels "
            f"of shape {tuple(y_shape)} and loss="
            f"{_loss_name(distiller._assembly.student_loss_fn)}"
        )


def _input_dtype_and_label_shape(x, y):
    if isinstance(x, tf.data.Dataset):
        spec = x.element_spec
        if not isinstance(spec, tuple) or not spec:
            return None, None
        x_spec = spec[0]
        if isinstance(x_spec, dict):
            x_spec = x_spec.get(teacher_cache.INPUTS_KEY)
        y_spec = spec[1] if len(spec) > 1 else None
        return (
            getattr(x_spec, "dtype", None),
            None
            if y_spec is None or not hasattr(y_spec, "shape")
            else y_spec.shape,
        )
    x_dtype = None
    if isinstance(x, (np.ndarray, tf.Tensor)):
        x_dtype = tf.as_dtype(x.dtype)
    y_shape = None
    if isinstance(y, (np.ndarray, tf.Tensor)):
        y_shape = tuple(y.shape)
    return x_dtype, y_shape


def _rescales(model):
    """Whether a model scales its own input (a Rescaling layer)."""
    return any(
        isinstance(layer, keras.layers.Rescaling)
        for layer in compat.flatten_layers(model, include_self=False)
    )


def _is_sparse(loss):
    if loss is None:
        return False
    if isinstance(loss, keras.losses.SparseCategoricalCrossentropy):
        return True
    return getattr(loss, "__name__", "") == "sparse_categorical_crossentropy"


def _loss_name(loss):
    return (
        type(loss).__name__
        if isinstance(loss, keras.losses.Loss)
        else (getattr(loss, "__name__", repr(loss)))
    )
