"""Argument checks shared by the compression functions."""

import math

from kd_toolkit.losses.base import check_non_negative
from kd_toolkit.losses.base import check_positive

__all__ = [
    "check_fraction",
    "check_int",
    "check_non_negative",
    "check_optional_int",
    "check_positive",
]


def check_int(name, value, minimum):
    """Returns `value` if it is an int >= `minimum`; raises otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"`{name}` must be an int >= {minimum}. Received: "
                        f"{name}={value!r} of type {type(value).__name__}")
    if value < minimum:
        raise ValueError(
            f"`{name}` must be >= {minimum}. Received: {name}={value}")
    return value


def check_optional_int(name, value, minimum):
    """Like `check_int`, but `None` passes through."""
    return None if value is None else check_int(name, value, minimum)


def check_fraction(name, value):
    """Returns `value` as float if `0 < value < 1`; raises otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"`{name}` must be a number in (0, 1). Received: "
                        f"{name}={value!r} of type {type(value).__name__}")
    if not (math.isfinite(value) and 0 < value < 1):
        raise ValueError(
            f"`{name}` must be in (0, 1). Received: {name}={value}")
    return float(value)
