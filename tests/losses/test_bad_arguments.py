"""Every registered loss refuses bad numeric settings in the project's
words: the message names the argument and ends with `Received: name=value`.

Driven by the registry and the constructors' signatures, so a new loss, or
a new numeric argument of an old one, gets the same checks by being
registered.
"""

import inspect
import math

import pytest

from kd_toolkit import losses
from kd_toolkit.adaptation import Replacement
from kd_toolkit.losses import loss_registry

# Arguments without a default, per loss: the smallest valid values.
REQUIRED = {
    "ama": {"replacements": [Replacement("a", "b", student_layer="c")]},
    "attention_transfer": {"layer_pairs": [("a", "b")]},
    "review_kd": {"layer_pairs": [("a", "b")]},
    **{
        name: {"teacher_layer": "a", "student_layer": "b"}
        for name in ("crd", "hint", "pkt", "rkd", "sp")
    },
}
# Numeric settings that may be 0 (a weight switches a term off); the
# others must be > 0, except counts, which are ints >= 0 (warm-up steps)
# or >= 1.
MAY_BE_ZERO = {
    "weight",
    "alpha",
    "beta",
    "gamma",
    "map_weight",
    "adapter_ce_weight",
    "distance_weight",
    "angle_weight",
    "warmup_steps",
}


def _numeric_arguments():
    cases = []
    for name in loss_registry.names():
        cls = loss_registry.get_class(name)
        for param in inspect.signature(cls.__init__).parameters.values():
            default = param.default
            if isinstance(default, bool) or not isinstance(
                default, (int, float)
            ):
                continue
            cases.append((name, param.name, default))
    return cases


CASES = _numeric_arguments()


def _bad_values(arg, default):
    bad = [-1, "one", math.nan, True]
    if arg not in MAY_BE_ZERO:
        bad.append(0)
    if isinstance(default, int) and not isinstance(default, bool):
        bad.append(1.5)
    return bad


@pytest.mark.parametrize(
    "loss, arg, default", CASES, ids=[f"{c[0]}.{c[1]}" for c in CASES]
)
def test_every_numeric_setting_refuses_bad_values(loss, arg, default):
    assert losses.get(loss, **REQUIRED.get(loss, {}), **{arg: default})
    for value in _bad_values(arg, default):
        kwargs = {**REQUIRED.get(loss, {}), arg: value}
        with pytest.raises((ValueError, TypeError), match=rf"Received: {arg}="):
            losses.get(loss, **kwargs)


def test_every_registered_loss_is_covered():
    assert {c[0] for c in CASES} == set(loss_registry.names())
