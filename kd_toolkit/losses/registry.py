"""Look-up of distillation losses by name, for command lines and configs."""

import inspect

_REGISTRY = {}


def register(name, cls=None):
    """Makes `cls` available as `kd_toolkit.losses.get(name, ...)`.

    As a decorator: `@register("dkd")` above the class.

    Raises:
        ValueError: if `name` is already taken by another class.
    """
    if cls is None:
        return lambda c: register(name, c)
    if _REGISTRY.get(name, cls) is not cls:
        raise ValueError(
            f"The loss name {name!r} is taken by "
            f"{_REGISTRY[name].__name__}. Received: cls={cls.__name__}"
        )
    _REGISTRY[name] = cls
    return cls


def names():
    """Sorted list of the registered loss names."""
    return sorted(_REGISTRY)


def get(identifier, **kwargs):
    """Returns a loss from a name (with constructor kwargs) or an instance.

    Args:
        identifier: a registered name such as `"kd"`, or a
            `DistillationLoss` instance (returned unchanged).
        **kwargs: constructor arguments when `identifier` is a name.

    Raises:
        ValueError: naming the valid choices when the name is unknown.
    """
    from kd_toolkit.losses.base import DistillationLoss

    if isinstance(identifier, DistillationLoss):
        return identifier
    if isinstance(identifier, str) and identifier in _REGISTRY:
        cls = _REGISTRY[identifier]
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
    raise ValueError(
        f"Unknown distillation loss. Expected one of {names()} or a "
        f"DistillationLoss instance. Received: loss={identifier!r}"
    )


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
