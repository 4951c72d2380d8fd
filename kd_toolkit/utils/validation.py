"""Argument checks in the project's message style.

Every check names the argument, says what was expected and ends with
`Received: name=value`; a value of the wrong type raises `TypeError`, a
value of the right type out of range raises `ValueError`. Each returns the
value normalised (a Python `int` or `float`, a tuple), so callers write
`self.steps = check_int("steps", steps, minimum=1)`.
"""

import difflib
import math
import numbers


def is_int(value):
    """True for an integer that is not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _type_error(name, value, expected):
    return TypeError(
        f"`{name}` must be {expected}. "
        f"Received: {name}={value!r} of type {type(value).__name__}"
    )


def check_bool(name, value):
    """A Python bool (not 0/1, not a NumPy bool).

    Returns:
        `value`.
    """
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be a bool. Received: {name}={value!r}")
    return value


def check_name(name, value, what="a layer name"):
    """A non-empty str (a layer name by default).

    Returns:
        `value`.

    Raises:
        TypeError: if `value` is not a str.
        ValueError: if `value` is empty.
    """
    if not isinstance(value, str):
        raise _type_error(name, value, f"{what} (a str)")
    if not value:
        raise ValueError(
            f"`{name}` must be {what}, not empty. Received: {name}={value!r}"
        )
    return value


def check_int(name, value, minimum=None, allow_none=False):
    """An integer (NumPy integers too) `>= minimum`, or None if allowed.

    Returns:
        `int(value)`, or None.
    """
    if value is None and allow_none:
        return None
    expected = (
        "an int"
        + ("" if minimum is None else f" >= {minimum}")
        + (" or None" if allow_none else "")
    )
    if not is_int(value):
        raise _type_error(name, value, expected)
    if minimum is not None and value < minimum:
        raise ValueError(
            f"`{name}` must be {expected}. Received: {name}={value!r}"
        )
    return int(value)


def check_positive_int(name, value, allow_none=False):
    """An integer >= 1 (or None if allowed); see `check_int`."""
    return check_int(name, value, minimum=1, allow_none=allow_none)


def check_ints(name, values, minimum=1):
    """A non-empty list or tuple of integers `>= minimum`, as a tuple."""
    expected = f"a non-empty tuple of ints >= {minimum}"
    if not isinstance(values, (tuple, list)):
        raise _type_error(name, values, expected)
    if not values or not all(is_int(v) and v >= minimum for v in values):
        raise ValueError(
            f"`{name}` must be {expected}. Received: {name}={values!r}"
        )
    return tuple(int(v) for v in values)


def check_number(
    name, value, low=None, high=None, low_open=False, high_open=False
):
    """A finite real number within the given bounds.

    Args:
        name: str. The argument's name.
        value: the value to check.
        low, high: float or None. Bounds (None: unbounded).
        low_open, high_open: bool. Exclude the bound itself.

    Returns:
        `float(value)`.
    """
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high}")
    expected = "a finite number" + (" " + " and ".join(parts) if parts else "")
    if not _is_number(value):
        raise _type_error(name, value, expected)
    inside = (
        math.isfinite(value)
        and (low is None or (value > low if low_open else value >= low))
        and (high is None or (value < high if high_open else value <= high))
    )
    if not inside:
        raise ValueError(
            f"`{name}` must be {expected}. Received: {name}={value}"
        )
    return float(value)


def check_non_negative(name, value):
    """A finite number >= 0, as a float."""
    return check_number(name, value, low=0)


def check_positive(name, value):
    """A finite number > 0, as a float."""
    return check_number(name, value, low=0, low_open=True)


def check_fraction(name, value):
    """A number in the open interval (0, 1), as a float."""
    return check_number(
        name, value, low=0, high=1, low_open=True, high_open=True
    )


def check_choice(name, value, choices, what=None):
    """One of `choices` (strings); the message lists close matches and
    every valid choice.

    Args:
        name: str. The argument's name.
        value: the value to check.
        choices: iterable of str.
        what: str or None. What a choice is, for the message ("dataset");
            defaults to `name`.

    Returns:
        `value`.
    """
    choices = list(choices)
    if isinstance(value, str) and value in choices:
        return value
    close = (
        difflib.get_close_matches(value, choices, n=3, cutoff=0.6)
        if isinstance(value, str)
        else []
    )
    hint = f" Did you mean {close}?" if close else ""
    raise ValueError(
        f"Unknown {what or name}.{hint} Expected one of {choices}. "
        f"Received: {name}={value!r}"
    )


def check_option(name, value, cls, default, namespace):
    """An option object: `value` if it is a `cls`, `default` for None.

    Args:
        name: str. The argument's name.
        value: the value to check.
        cls: the option class (a frozen dataclass).
        default: what None stands for.
        namespace: str. Where users import `cls` from, for the message
            (`"kd_toolkit.export"`).

    Raises:
        TypeError: naming the argument and the class it must be.
    """
    if value is None:
        return default
    if not isinstance(value, cls):
        raise _type_error(name, value, f"a {namespace}.{cls.__name__}")
    return value
