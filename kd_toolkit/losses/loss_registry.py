"""Look-up of distillation losses by name, for command lines and configs."""

import inspect

import keras

from kd_toolkit.utils.registry import Registry

_LOSSES = Registry("distillation loss", "loss")


def register(name):
    """Class decorator: the loss becomes `kd_toolkit.losses.get(name)`,
    and Keras-serializable (`keras.saving.register_keras_serializable`,
    package `"kd_toolkit"`), in one step.

    ```python
    @register("dkd")
    class DKD(DistillationLoss): ...
    ```

    Raises:
        ValueError: if `name` is already taken by another class.
    """

    def wrap(cls):
        if name in _LOSSES and _LOSSES.get(name) is cls:
            return cls
        _LOSSES.register(name, cls)
        return keras.saving.register_keras_serializable(package="kd_toolkit")(
            cls
        )

    return wrap


def names():
    """Sorted list of the registered loss names."""
    return _LOSSES.names()


def get_class(name):
    """The loss class registered as `name` (see `names()`)."""
    return _LOSSES.get(name)


def get(identifier, **kwargs):
    """Returns a loss from a name (with constructor kwargs) or an instance.

    Args:
        identifier: a registered name such as `"kd"`, or a
            `DistillationLoss` instance (returned unchanged).
        **kwargs: constructor arguments when `identifier` is a name.

    Raises:
        ValueError: naming close matches and the valid choices when the
            name is unknown.
    """
    from kd_toolkit.losses.base import DistillationLoss

    if isinstance(identifier, DistillationLoss):
        return identifier
    cls = _LOSSES.get(identifier)
    missing = required_arguments(cls, kwargs)
    if missing:
        given = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        raise ValueError(
            f"The loss {identifier!r} ({cls.__name__}) has no default "
            f"for {missing}: pass them, e.g. kd_toolkit.losses.get("
            f"{identifier!r}, {missing[0]}=...). Received: "
            f"{given or 'no arguments'}"
        )
    return cls(**kwargs)


def required_arguments(cls, given=()):
    """Constructor arguments of `cls` without a default, not in `given`."""
    params = inspect.signature(cls.__init__).parameters.values()
    return [
        p.name
        for p in params
        if p.name != "self"
        and p.default is p.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in given
    ]
