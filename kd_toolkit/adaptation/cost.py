"""Parameters and multiply-accumulates per image of a model's executed graph."""

import dataclasses
import math

import keras

from kd_toolkit.adaptation.adapter import ActivationMapAdapter
from kd_toolkit.adaptation.frozen_layer import unwrap
from kd_toolkit.adaptation.graph import LayerGraph
from kd_toolkit.utils.model_graph import is_graph_model

_CONV = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
_DEPTHWISE = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
_SEPARABLE = (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)
_TRANSPOSE = (
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
)


@dataclasses.dataclass(frozen=True)
class LayerCost:
    """Cost of one executed layer call.

    Attributes:
        name: layer name (`adapter/sublayer` inside an adapter or a nested
            model).
        kind: layer class name.
        output_shape: output shape without the batch dimension.
        params: number of weights of the layer (0 for a repeated call of a
            shared layer, so totals count each weight once).
        macs: multiply-accumulates per image (`None` when not counted).
    """

    name: str
    kind: str
    output_shape: tuple
    params: int
    macs: int | None


@dataclasses.dataclass(frozen=True)
class CostReport:
    """Parameters and MACs per image of the executed graph of a model.

    MACs (multiply-accumulates) are counted for convolutions (regular,
    depthwise, separable, transposed; bias additions not counted), `Dense`
    and `BatchNormalization` (one MAC per output element: the inference
    affine `γ'·x + β'`). Activations, additions and pooling count 0 MACs.
    `flops = 2 · macs`. A layer with weights of another kind is listed in
    `uncounted` and contributes its parameters only. Parameters include the
    non-trainable ones (BatchNormalization moving statistics).

    Attributes:
        model_name: name of the model.
        layers: tuple of `LayerCost`, in execution order.
    """

    model_name: str
    layers: tuple

    @property
    def params(self):
        return sum(r.params for r in self.layers)

    @property
    def macs(self):
        return sum(r.macs or 0 for r in self.layers)

    @property
    def flops(self):
        return 2 * self.macs

    @property
    def uncounted(self):
        """Names of layers with weights whose MACs are not counted."""
        return [r.name for r in self.layers if r.macs is None]

    def __str__(self):
        rows = [
            (
                r.name,
                r.kind,
                str(r.output_shape),
                f"{r.params:,}",
                "?" if r.macs is None else f"{r.macs:,}",
            )
            for r in self.layers
        ]
        head = ("layer", "type", "output shape", "params", "MACs")
        total = ("total", "", "", f"{self.params:,}", f"{self.macs:,}")
        widths = [
            max(len(r[i]) for r in rows + [head, total]) for i in range(5)
        ]
        fmt = "  ".join(
            f"{{:<{w}}}" if i < 3 else f"{{:>{w}}}"
            for i, w in enumerate(widths)
        )
        rule = fmt.format(*("-" * w for w in widths))
        lines = [
            f"Cost of '{self.model_name}' per image "
            f"(MACs; FLOPs = 2 x MACs = {self.flops:,}):",
            fmt.format(*head),
            rule,
        ]
        lines += [fmt.format(*r) for r in rows]
        lines += [rule, fmt.format(*total)]
        if self.uncounted:
            lines.append(f"MACs not counted for: {self.uncounted}")
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class CostComparison:
    """Teacher cost before and after adaptation, printable.

    Attributes:
        before: `CostReport` of the original teacher.
        after: `CostReport` of the adapted teacher.
    """

    before: CostReport
    after: CostReport

    @property
    def macs_ratio(self):
        """`after.macs / before.macs`."""
        return (
            self.after.macs / self.before.macs
            if self.before.macs
            else (math.nan)
        )

    @property
    def params_ratio(self):
        """`after.params / before.params`."""
        return (
            self.after.params / self.before.params
            if self.before.params
            else math.nan
        )

    def __str__(self):
        rows = [
            (
                "params",
                self.before.params,
                self.after.params,
                self.params_ratio,
            ),
            (
                "MACs / image",
                self.before.macs,
                self.after.macs,
                self.macs_ratio,
            ),
            (
                "FLOPs / image",
                self.before.flops,
                self.after.flops,
                self.macs_ratio,
            ),
        ]
        lines = [
            f"Teacher cost: '{self.before.model_name}' -> "
            f"'{self.after.model_name}' (FLOPs = 2 x MACs)",
            f"{'':<14}{'before':>14}{'after':>14}{'ratio':>8}",
        ]
        lines += [f"{n:<14}{b:>14,}{a:>14,}{r:>8.3f}" for n, b, a, r in rows]
        return "\n".join(lines)


def model_cost(model):
    """Counts parameters and MACs per image of the executed graph.

    Only the layers that the model's graph executes are counted (layers
    removed by `adapt_teacher` are not). `FrozenLayer` wrappers are counted
    as the layer they wrap; adapters and nested functional models are
    expanded into their sublayers.

    Args:
        model: a functional or built sequential `keras.Model` with known
            input spatial sizes.

    Returns:
        A printable `CostReport`.

    Raises:
        ValueError: if `model` is subclassed (no layer graph).

    Example:

    ```python
    print(kd_toolkit.adaptation.model_cost(teacher))
    ```
    """
    rows = []
    _graph_rows(LayerGraph(model), "", set(), rows)
    return CostReport(model.name, tuple(rows))


def _graph_rows(graph, prefix, seen, rows):
    for node in graph.nodes:
        layer = unwrap(node.operation)
        name = prefix + layer.name
        in_shapes = [tuple(t.shape) for t in node.input_tensors]
        out_shape = tuple(node.output_tensors[0].shape)
        if isinstance(layer, ActivationMapAdapter):
            for sub, sub_in, sub_out in layer.sublayer_shapes(in_shapes[0]):
                rows.append(_layer_row(sub, f"{name}/", sub_in, sub_out, seen))
        elif is_graph_model(layer):
            _graph_rows(LayerGraph(layer), f"{name}/", seen, rows)
        else:
            shape = in_shapes[0] if in_shapes else out_shape
            rows.append(_layer_row(layer, prefix, shape, out_shape, seen))


def _layer_row(layer, prefix, in_shape, out_shape, seen):
    if any(d is None for d in tuple(in_shape[1:]) + tuple(out_shape[1:])):
        raise ValueError(
            "Counting MACs needs known activation sizes; layer "
            f"'{prefix}{layer.name}' maps {tuple(in_shape)} to "
            f"{tuple(out_shape)}. Build the model with a fixed input shape. "
            f"Received: layer={layer.name!r}"
        )
    weights = layer.weights if isinstance(layer, keras.layers.Layer) else []
    params = 0 if id(layer) in seen else _count(weights)
    seen.add(id(layer))
    return LayerCost(
        name=prefix + layer.name,
        kind=type(layer).__name__,
        output_shape=tuple(out_shape[1:]),
        params=params,
        macs=layer_macs(layer, in_shape, out_shape),
    )


def layer_macs(layer, input_shape, output_shape):
    """Multiply-accumulates per image of one call of `layer`.

    Args:
        layer: a built Keras layer.
        input_shape: its input shape, batch first.
        output_shape: its output shape, batch first.

    Returns:
        An int, or `None` for a layer with weights of an unsupported kind.
        Layers without weights (activations, pooling, additions) and plain
        operations give 0.
    """
    if not isinstance(layer, keras.layers.Layer):
        return 0
    out_positions = math.prod(output_shape[1:-1])
    if isinstance(layer, _SEPARABLE):
        # Depthwise then pointwise, both at the output resolution.
        return out_positions * (
            _size(layer.depthwise_kernel) + _size(layer.pointwise_kernel)
        )
    if isinstance(layer, _DEPTHWISE):
        # Kernel (k..., c_in, multiplier): one k-window per output channel.
        return out_positions * _size(layer.kernel)
    if isinstance(layer, _TRANSPOSE):
        # Each input position scatters a full (k..., c_out) window.
        return math.prod(input_shape[1:-1]) * _size(layer.kernel)
    if isinstance(layer, _CONV):
        # Kernel (k..., c_in / groups, c_out).
        return out_positions * _size(layer.kernel)
    if isinstance(layer, keras.layers.Dense):
        return out_positions * _size(layer.kernel)
    if isinstance(layer, keras.layers.BatchNormalization):
        return math.prod(output_shape[1:])
    return None if layer.weights else 0


def _size(variable):
    return math.prod(variable.shape)


def _count(weights):
    return sum(_size(w) for w in weights)
