"""Label and sample-weight checks that run before the training step.

The `Distiller` also asserts the label range inside its step, but XLA
(`jit_compile=True`) compiles `Assert` ops away. These checks run where XLA
does not reach: on numpy labels before `fit`, and in the `tf.data` pipeline,
so a bad label is caught in every mode and the message names the value:

- class ids outside `[0, num_classes)`;
- class ids that are not whole numbers (a float label `3.7` would be cast
  to `3` without a word);
- labels that are strings (names, not ids) or one-hot rows of the wrong
  width;
- negative sample weights (training would maximise the cross-entropy of
  those examples).
"""

import numpy as np
import tensorflow as tf

from kd_toolkit.data.catalog import UNLABELED

_EXPECTED = (
    "integer class ids in [0, {c}) (or -1 for an unlabeled example) or "
    "one-hot rows of length {c}"
)


def check_array_labels(y, num_classes, arg="y"):
    """Raises unless `y` holds valid class ids or one-hot/soft rows.

    One-hot or soft labels (`(N, num_classes)` floats) are left alone.

    Raises:
        ValueError: naming the first offending label and its index, a
            non-numeric dtype or a one-hot width that is not
            `num_classes`.
    """
    y = np.asarray(y)
    expected = _EXPECTED.format(c=num_classes)
    if y.size and not (
        np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_
    ):
        raise ValueError(
            f"Labels must be {expected}; map class names to ids first. "
            f"Received: {arg} of dtype {y.dtype} (first label "
            f"{y.reshape(-1)[0].item()!r})"
        )
    if y.ndim == 2 and y.shape[-1] not in (1, num_classes):
        raise ValueError(
            f"Labels must be {expected}. Received: {arg} of shape "
            f"{y.shape}: rows of length {y.shape[-1]}, not {num_classes}"
        )
    if y.ndim == 2 and y.shape[-1] == num_classes and y.shape[-1] != 1:
        return
    flat = y.reshape(-1)
    if flat.size == 0:
        return
    if np.issubdtype(flat.dtype, np.floating):
        fractional = np.flatnonzero(flat != np.floor(flat))
        if fractional.size:
            index = int(fractional[0])
            raise ValueError(
                f"Labels must be {expected}: class ids must be whole "
                f"numbers. Received: {arg}[{index}]={flat[index].item()!r} "
                f"({fractional.size} labels with a fractional part)"
            )
    bad = np.flatnonzero((flat < UNLABELED) | (flat >= num_classes))
    if bad.size:
        index = int(bad[0])
        raise ValueError(
            f"Labels must be class ids in [0, {num_classes}), -1 for an "
            f"unlabeled example, or one-hot rows of length {num_classes}. "
            f"Received: {arg}[{index}]={flat[index].item()!r} ({bad.size} "
            "labels out of range)"
        )


def check_array_weights(weights, arg="sample_weight"):
    """Raises if sample weights are negative or not finite.

    Raises:
        ValueError: naming the first offending weight and its index.
    """
    if weights is None:
        return
    flat = np.asarray(weights, dtype=np.float64).reshape(-1)
    bad = np.flatnonzero(~np.isfinite(flat) | (flat < 0))
    if bad.size:
        index = int(bad[0])
        raise ValueError(
            f"`{arg}` must be finite and >= 0 (a negative weight maximises "
            f"that example's loss). Received: {arg}[{index}]="
            f"{flat[index].item()!r} ({bad.size} bad weights)"
        )


def check_class_weight(class_weight):
    """Raises if a `class_weight` dict holds a negative or non-finite
    weight."""
    if not class_weight:
        return
    for cls, weight in class_weight.items():
        if not np.isfinite(weight) or weight < 0:
            raise ValueError(
                "`class_weight` values must be finite and >= 0. Received: "
                f"class_weight[{cls!r}]={weight!r}"
            )


def checked_dataset(dataset, num_classes):
    """`dataset` with assertions on its labels and sample weights.

    Works on elements `(x, y)` and `(x, y, sample_weight)`; other element
    structures pass through unchecked. String labels and one-hot rows of
    the wrong width are refused at once (they show in the element spec);
    out-of-range and fractional class ids and negative weights raise when
    the batch that holds them is read.

    Raises:
        ValueError: for string labels or a one-hot width that is not
            `num_classes`.
    """
    spec = dataset.element_spec
    if not isinstance(spec, tuple) or len(spec) not in (2, 3):
        return dataset
    y_spec = spec[1]
    if not isinstance(y_spec, tf.TensorSpec):
        return dataset
    expected = _EXPECTED.format(c=num_classes)
    if y_spec.dtype == tf.string:
        raise ValueError(
            f"Labels must be {expected}; map class names to ids first "
            "(e.g. with a tf.lookup.StaticHashTable). Received: labels of "
            "dtype string in the dataset"
        )
    width = y_spec.shape[-1] if y_spec.shape.rank == 2 else None
    if width is not None and width not in (1, num_classes):
        raise ValueError(
            f"Labels must be {expected}. Received: labels of shape "
            f"{tuple(y_spec.shape)} in the dataset: rows of length {width}, "
            f"not {num_classes}"
        )
    sparse = not (y_spec.shape.rank == 2 and width == num_classes)
    check_ids = sparse and (y_spec.dtype.is_integer or y_spec.dtype.is_floating)
    check_weights = len(spec) == 3 and isinstance(spec[2], tf.TensorSpec)
    if not check_ids and not check_weights:
        return dataset
    range_message = (
        f"Labels must be class ids in [0, {num_classes}) or -1 (unlabeled). "
        "Received: out-of-range labels in a batch; the values follow"
    )
    whole_message = (
        f"Labels must be {expected}: class ids must be whole numbers. "
        "Received: fractional labels in a batch; the values follow"
    )
    weight_message = (
        "`sample_weight` must be finite and >= 0 (a negative weight "
        "maximises that example's loss). Received: bad weights in a batch; "
        "the values follow"
    )

    def check(*element):
        y = element[1]
        asserts = []
        if check_ids:
            if y.dtype.is_floating:
                asserts.append(
                    tf.debugging.assert_equal(
                        y, tf.floor(y), message=whole_message
                    )
                )
            asserts += [
                tf.debugging.assert_greater_equal(
                    y, tf.cast(UNLABELED, y.dtype), message=range_message
                ),
                tf.debugging.assert_less(
                    y, tf.cast(num_classes, y.dtype), message=range_message
                ),
            ]
        if check_weights:
            w = tf.cast(element[2], tf.float32)
            asserts += [
                tf.debugging.assert_all_finite(w, message=weight_message),
                tf.debugging.assert_non_negative(w, message=weight_message),
            ]
        with tf.control_dependencies(asserts):
            return (element[0], tf.identity(y)) + tuple(
                tf.identity(e) for e in element[2:]
            )

    return dataset.map(check)
