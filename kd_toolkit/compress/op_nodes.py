"""`keras.ops` calls in a functional graph, rebuilt as layers.

A functional Keras 3 model built with `x + 3.0` or `x * (1 / 6)` (as
`keras.applications.MobileNetV3` does) stores those calls as op nodes: a
layer entry whose `module` is `keras.src.ops.*` and whose class is the op
(`Add`, `Multiply`, ...), not a merge layer. `tf_keras` has no op nodes;
the bridge rebuilds each one as the layer that computes the same thing:

- a tensor and a number: `Rescaling(scale, offset)`, i.e. `x · scale +
  offset` (`x + c`: scale 1, offset c; `x − c`, `c − x`, `x · c`, `x / c`);
- two tensors: the merge layer (`Add`, `Subtract`, `Multiply`).

Anything else is a gap the bridge names: the op, and what it was called
with.
"""

import re

from kd_toolkit.compress.config_graph import TensorRef
from kd_toolkit.utils import compat

_MERGE = {"Add": "Add", "Subtract": "Subtract", "Multiply": "Multiply"}


class OpNodeError(ValueError):
    """An op node with no equivalent layer."""


def is_op_node(layer):
    """Whether a serialized layer entry is a `keras.ops` call."""
    return str(layer.get("module", "")).startswith(compat.KERAS_OPS_MODULE)


def op_name(layer):
    """`keras.ops.add` for the op node of class `Add`."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", layer["class_name"]).lower()
    return f"keras.ops.{snake}"


def translate_op_node(layer, calls, module):
    """The layer that computes an op node, and its call arguments.

    Args:
        layer: the op node's serialized entry.
        calls: its `LayerCall`s (an op node is called once).
        module: the target Keras module.

    Returns:
        `(layer class, constructor kwargs, call args)`.

    Raises:
        OpNodeError: naming the op and its arguments when no layer
            computes it.
    """
    op = layer["class_name"]
    name = layer["config"]["name"]
    if len(calls) != 1 or calls[0].kwargs:
        raise OpNodeError(
            f"{op_name(layer)} called {len(calls)} times or "
            "with keyword arguments"
        )
    args = list(calls[0].args)
    tensors = [a for a in args if isinstance(a, TensorRef)]
    numbers = [
        a
        for a in args
        if isinstance(a, (int, float)) and not isinstance(a, bool)
    ]
    if len(args) == 2 and len(tensors) == 2 and op in _MERGE:
        return getattr(module.layers, _MERGE[op]), {"name": name}, [tensors]
    if len(args) == 2 and len(tensors) == 1 and len(numbers) == 1:
        c, tensor_first = float(numbers[0]), args[0] is tensors[0]
        affine = {
            ("Add", True): (1.0, c),
            ("Add", False): (1.0, c),
            ("Multiply", True): (c, 0.0),
            ("Multiply", False): (c, 0.0),
            ("Subtract", True): (1.0, -c),
            ("Subtract", False): (-1.0, c),
        }.get((op, tensor_first))
        if op in ("Divide", "TrueDivide") and tensor_first and c:
            affine = (1.0 / c, 0.0)
        if affine is not None:
            scale, offset = affine
            return (
                module.layers.Rescaling,
                {"name": name, "scale": scale, "offset": offset},
                [tensors[0]],
            )
    described = ", ".join(
        "tensor" if isinstance(a, TensorRef) else repr(a) for a in args
    )
    raise OpNodeError(f"{op_name(layer)}({described}) has no layer equivalent")
