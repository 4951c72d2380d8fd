"""Label range checks that run before the training step, XLA or not.

The `Distiller` also asserts the label range inside its step, but XLA
(`jit_compile=True`) compiles `Assert` ops away. These checks run where XLA
does not reach: on numpy labels before `fit`, and in the `tf.data` pipeline,
so an out-of-range class id is caught in every mode and the message names
the value.
"""

import numpy as np
import tensorflow as tf


def check_array_labels(y, num_classes, arg="y"):
    """Raises if integer labels fall outside `[0, num_classes)`.

    One-hot or soft labels (`(N, num_classes)` floats) are left alone.

    Raises:
        ValueError: naming the first offending label and its index.
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[-1] == num_classes and y.shape[-1] != 1:
        return
    flat = y.reshape(-1)
    if flat.size == 0 or not np.issubdtype(flat.dtype, np.number):
        return
    bad = np.flatnonzero((flat < 0) | (flat >= num_classes))
    if bad.size:
        index = int(bad[0])
        raise ValueError(
            f"Labels must be class ids in [0, {num_classes}) (or one-hot "
            f"rows of length {num_classes}). Received: {arg}[{index}]="
            f"{flat[index].item()!r} ({bad.size} labels out of range)"
        )


def checked_dataset(dataset, num_classes):
    """`dataset` with an assertion on the range of its integer labels.

    Works on elements `(x, y)` and `(x, y, sample_weight)`; other element
    structures pass through unchecked.
    """
    spec = dataset.element_spec
    if not isinstance(spec, tuple) or len(spec) not in (2, 3):
        return dataset
    y_spec = spec[1]
    if not isinstance(y_spec, tf.TensorSpec) or not y_spec.dtype.is_integer:
        return dataset

    def check(*element):
        y = element[1]
        message = (
            f"Labels must be class ids in [0, {num_classes}). "
            "Received: out-of-range labels in a batch; the values "
            "follow"
        )
        with tf.control_dependencies(
            [
                tf.debugging.assert_non_negative(y, message=message),
                tf.debugging.assert_less(
                    y, tf.cast(num_classes, y.dtype), message=message
                ),
            ]
        ):
            return (element[0], tf.identity(y)) + tuple(element[2:])

    return dataset.map(check)
