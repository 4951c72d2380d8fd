"""Argument checks shared by the model builders of `kd_toolkit.models`.

Every check raises a `ValueError` (or `TypeError` for a wrong type) that
names the argument, says what was expected and ends with
`Received: <argument>=<value>`.
"""

import numbers

from kd_toolkit.utils.validation import is_int


def check_input_shape(input_shape, min_size, arg="input_shape"):
    """Validates an image input shape `(height, width, channels)`.

    Height and width may be `None` (any size at call time); channels must be
    known because the first convolution's kernel depends on it.

    Args:
        input_shape: the shape to check.
        min_size: int. The total downsampling factor of the network: known
            height and width must be at least this large so that the last
            stage still sees at least one real pixel.
        arg: str. The argument name used in messages. Defaults to
            `"input_shape"`.

    Returns:
        The shape as a tuple.

    Raises:
        ValueError: if the shape is not rank 3, a dimension is not a positive
            int, or height/width is smaller than `min_size`.
    """
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(
            f"`{arg}` must be a rank-3 image shape (height, width, channels),"
            f" without the batch dimension. Received: {arg}={input_shape!r}"
        )
    height, width, channels = input_shape
    for label, dim in (("height", height), ("width", width)):
        if dim is None:
            continue
        if not is_int(dim) or dim <= 0:
            raise ValueError(
                f"`{arg}` {label} must be a positive int or None. "
                f"Received: {arg}={input_shape!r}"
            )
        if dim < min_size:
            raise ValueError(
                f"`{arg}` {label} is too small for this network, whose "
                f"strides downsample by {min_size}: height and width must be"
                f" at least {min_size}. Received: {arg}={input_shape!r}"
            )
    if not is_int(channels) or channels <= 0:
        raise ValueError(
            f"`{arg}` channels (last dimension) must be a positive int. "
            f"Received: {arg}={input_shape!r}"
        )
    return tuple(input_shape)


def check_num_classes(num_classes):
    """Raises a `ValueError` unless `num_classes` is an int >= 2."""
    if not is_int(num_classes) or num_classes < 2:
        raise ValueError(
            "`num_classes` must be an int >= 2. "
            f"Received: num_classes={num_classes!r}"
        )
    return int(num_classes)


def check_rate(value, arg):
    """Raises a `ValueError` unless `0 <= value < 1`."""
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not 0.0 <= value < 1.0
    ):
        raise ValueError(
            f"`{arg}` must be a float in [0, 1). Received: {arg}={value!r}"
        )
    return float(value)


def check_weight_decay(value):
    """Raises a `ValueError` unless `weight_decay` is a float >= 0."""
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not value >= 0.0
    ):
        raise ValueError(
            "`weight_decay` must be a float >= 0 (the L2 coefficient). "
            f"Received: weight_decay={value!r}"
        )
    return float(value)
