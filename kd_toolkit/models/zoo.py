"""The model zoo by name: `get(name, ...)` and `names()`.

Valid names: the CIFAR ResNets (`resnet8` ... `resnet110`, `resnet8x4`,
`resnet32x4`), the wide ResNets (`wrn_16_1`, `wrn_16_2`, `wrn_16_4`,
`wrn_40_1`, `wrn_40_2`), `simple_cnn` and `mobilenet_tiny`. Each builder's
module documents its layer names.
"""

import dataclasses
import functools
from collections.abc import Callable

from kd_toolkit.models.mobilenet_tiny import mobilenet_tiny
from kd_toolkit.models.resnet import RESNET_NAMES
from kd_toolkit.models.resnet import resnet
from kd_toolkit.models.simple_cnn import simple_cnn
from kd_toolkit.models.wide_resnet import WRN_CONFIGS
from kd_toolkit.models.wide_resnet import wide_resnet
from kd_toolkit.utils.registry import Registry


@dataclasses.dataclass(frozen=True)
class _Entry:
    build: Callable
    options: tuple  # keyword arguments accepted besides the common two


_RESNET_OPTIONS = ("base_width", "weight_decay")
_WRN_OPTIONS = ("dropout", "weight_decay")

_ENTRIES = {
    **{
        n: _Entry(functools.partial(resnet, n), _RESNET_OPTIONS)
        for n in RESNET_NAMES
    },
    **{
        n: _Entry(functools.partial(wide_resnet, d, k), _WRN_OPTIONS)
        for n, (d, k) in WRN_CONFIGS.items()
    },
    "simple_cnn": _Entry(simple_cnn, ("filters", "weight_decay")),
    "mobilenet_tiny": _Entry(
        mobilenet_tiny,
        ("filters", "blocks_per_stage", "stem_filters", "weight_decay"),
    ),
}


_ZOO = Registry("model name", "name")
for _name, _entry in _ENTRIES.items():
    _ZOO.register(_name, _entry)


def names():
    """The sorted list of model names that `get()` accepts."""
    return _ZOO.names()


def get(name, input_shape=None, num_classes=10, **kwargs):
    """Builds a zoo model by name.

    Args:
        name: str. A name from `names()`, e.g. `"resnet20"`, `"resnet8x4"`,
            `"wrn_16_2"`, `"simple_cnn"`. Also the model's name.
        input_shape: tuple or `None`. `(height, width, channels)`. Defaults
            to `None`: the builder's default (`(28, 28, 1)` for
            `simple_cnn`, `(32, 32, 3)` for the others).
        num_classes: int >= 2. Size of the logits. Defaults to `10`.
        **kwargs: options of the family's builder: `base_width`,
            `weight_decay` for ResNets (`resnet()`); `dropout`,
            `weight_decay` for WRNs (`wide_resnet()`); `filters`,
            `weight_decay` for `simple_cnn`; `filters`, `blocks_per_stage`,
            `stem_filters`, `weight_decay` for `mobilenet_tiny`.

    Returns:
        A functional `keras.Model` that outputs logits.

    Raises:
        ValueError: for an unknown `name` (listing close matches and every
            valid name), an option the family does not take (listing those
            it does), or an invalid argument value.

    Example:

    ```python
    teacher = kd_toolkit.models.get("resnet20", input_shape=(28, 28, 1))
    student = kd_toolkit.models.get("resnet8", input_shape=(28, 28, 1),
                                    base_width=8)
    ```
    """
    entry = _ZOO.get(name)
    unknown = sorted(set(kwargs) - set(entry.options))
    if unknown:
        raise ValueError(
            f"Model '{name}' does not take the option(s) {unknown}. Valid "
            f"options: {list(entry.options)}. Received: kwargs={kwargs!r}"
        )
    if input_shape is not None:
        kwargs["input_shape"] = input_shape
    return entry.build(num_classes=num_classes, **kwargs)
