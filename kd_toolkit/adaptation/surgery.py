"""Graph surgery: replace teacher blocks by activation map adapters."""

import collections
import dataclasses

import keras

from kd_toolkit.adaptation.adapter import adapter_for_shapes
from kd_toolkit.adaptation.adapter import infer_strides
from kd_toolkit.adaptation.frozen_layer import FrozenLayer
from kd_toolkit.adaptation.frozen_layer import unwrap
from kd_toolkit.adaptation.graph import LayerGraph
from kd_toolkit.adaptation.graph import check_graph_model
from kd_toolkit.adaptation.replacement import as_replacement
from kd_toolkit.utils import compat
from kd_toolkit.utils.model_graph import inline_nested
from kd_toolkit.utils.validation import check_bool

_ACTIVATED = (
    keras.layers.Activation,
    keras.layers.Dense,
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
)


@dataclasses.dataclass(frozen=True)
class AdaptedTeacher:
    """The result of `adapt_teacher`.

    Attributes:
        model: the adapted teacher, a functional `keras.Model`: pass it to
            the `Distiller` as the teacher. Only its adapters are trainable.
        original: the teacher it was built from (its layers are shared, and
            now frozen).
        replacements: tuple of the `Replacement`s applied.
        removed_layers: tuple, per replacement, of the names of the teacher
            layers that were removed (and are no longer executed).
    """

    model: keras.Model
    original: keras.Model
    replacements: tuple
    removed_layers: tuple

    @property
    def adapters(self):
        """Dict: adapter layer name -> `ActivationMapAdapter`."""
        return {
            r.adapter_name: self.model.get_layer(r.adapter_name)
            for r in self.replacements
        }

    def cost(self):
        """Parameters and MACs per image, before and after adaptation.

        Returns:
            A printable `CostComparison`.
        """
        from kd_toolkit.adaptation.cost import CostComparison
        from kd_toolkit.adaptation.cost import model_cost

        return CostComparison(model_cost(self.original), model_cost(self.model))

    def __str__(self):
        lines = [
            f"Adapted teacher '{self.model.name}' from '{self.original.name}':"
        ]
        for rep, removed in zip(self.replacements, self.removed_layers):
            target = (
                f", supervises student '{rep.student_layer}'"
                if rep.student_layer
                else ""
            )
            lines.append(
                f"  {rep.adapter_name} ({rep.kind}): '{rep.start}' -> "
                f"'{rep.end}', replaces {len(removed)} layers{target}"
            )
        return "\n".join(lines)


def adapt_teacher(teacher, replacements, name=None, local_gradients=False):
    """Replaces blocks of a functional teacher by trainable adapters.

    Our formalization of Wu et al., "Activation Map Adaptation for
    Effective Knowledge Distillation", arXiv 2010.13500 (see
    `docs/adaptation.md`). For each `Replacement(start, end, ...)`, the
    subgraph after the `start` cut up to and including the `end` cut is
    removed and an `ActivationMapAdapter` maps the `start` activation to the
    shape of the `end` activation:

    ```
    T = H ∘ B_n ∘ … ∘ B_1,   T̃ = H ∘ … ∘ A ∘ (blocks before start) ∘ …
    ```

    The adapted model is rebuilt by re-calling the original layer objects
    (weights shared, not copied), each wrapped in a `FrozenLayer` so it
    runs frozen and in inference mode even when the `Distiller` runs the
    teacher with `training=True`. This sets `trainable=False` on every
    layer of the original teacher (shared objects). The removed layers are
    not in the new graph, so they are not executed. Only the adapters are
    trainable.

    Args:
        teacher: a trained functional or sequential `keras.Model`.
        replacements: non-empty list of `Replacement`s whose regions do not
            overlap (one may start where another ends).
        name: str or None. Name of the adapted model; defaults to
            `f"{teacher.name}_adapted"`.
        local_gradients: bool. Every adapter blocks the gradient at its
            input, so each learns from the terms on its own output (and on
            the frozen layers after it) only, and a training step
            back-propagates through one adapter instead of the chain of
            adapters after it. An adapter fed by frozen layers alone blocks
            it either way. Defaults to `False`.

    Returns:
        An `AdaptedTeacher` (`.model` for the Distiller, `.adapters`,
        `.removed_layers`, `.cost()`).

    Raises:
        TypeError: if `teacher` is not a `keras.Model` or a replacement is
            not a `Replacement`.
        ValueError: if the teacher is subclassed; a `start`/`end` layer is
            unknown or not a cut (the message names the tensors that cross
            the boundary); `end` does not come after `start`; the
            activations are not 4-D or the end is not reachable by a strided
            convolution; replacements overlap; or an adapter name is taken.

    Example:

    ```python
    adapted = kd_toolkit.adaptation.adapt_teacher(
        teacher, [kd_toolkit.adaptation.Replacement(
            start="stage3_block1_out", end="stage3_block3_out",
            student_layer="stage3_out")])
    print(adapted.cost())
    ```
    """
    check_graph_model(teacher)
    check_bool("local_gradients", local_gradients)
    if (
        isinstance(replacements, (str, bytes, dict))
        or not isinstance(replacements, (list, tuple))
        or not replacements
    ):
        raise ValueError(
            "`replacements` must be a non-empty list of Replacement. "
            f"Received: replacements={replacements!r}"
        )
    reps = tuple(as_replacement(r) for r in replacements)
    teacher, reps = _inline(teacher, reps)
    graph = LayerGraph(teacher)
    plans = [_plan(graph, rep) for rep in reps]
    _check_disjoint(graph, reps, plans)
    _check_adapter_names(graph, reps)
    subs = {}
    ends = {id(end) for _, end, _ in plans}
    for rep, (start, end, _) in zip(reps, plans):
        final_relu = (
            _ends_in_relu(graph, end)
            if rep.final_relu is None
            else rep.final_relu
        )
        # Only adapters train: an adapter fed by frozen layers alone needs
        # no gradient for its input.
        upstream = graph.ancestors(start) | {id(start)}
        adapter = adapter_for_shapes(
            tuple(start.shape),
            tuple(end.shape),
            kind=rep.kind,
            kernel_size=rep.kernel_size,
            final_relu=final_relu,
            stop_input_gradient=local_gradients or not upstream & ends,
            name=rep.adapter_name,
        )
        subs[id(end)] = (start, adapter)
    model = _rebuild(graph, subs, name or f"{teacher.name}_adapted")
    for layer in teacher.layers:  # the removed ones too: frozen teacher
        layer.trainable = False
    removed = tuple(
        tuple(_layer_names(graph, region)) for _, _, region in plans
    )
    return AdaptedTeacher(
        model=model, original=teacher, replacements=reps, removed_layers=removed
    )


def _plan(graph, rep):
    """Validates one replacement; returns `(start, end, region_ids)`."""
    start = graph.layer_output(rep.start, "start")
    end = graph.layer_output(rep.end, "end")
    for arg, tensor in (("start", start), ("end", end)):
        if not graph.is_cut(tensor):
            raise graph.cut_error(tensor, arg)
    down = graph.descendants(start)
    if id(end) not in down:
        raise ValueError(
            f"`end` must come after `start` in '{graph.model.name}': layer "
            f"'{rep.end}' is not computed from layer '{rep.start}'. "
            f"Received: start={rep.start!r}, end={rep.end!r}"
        )
    try:
        infer_strides(tuple(start.shape), tuple(end.shape))
    except ValueError as err:
        raise ValueError(
            f"Cannot adapt from layer '{rep.start}' (output shape "
            f"{tuple(start.shape)}) to layer '{rep.end}' (output shape "
            f"{tuple(end.shape)}): {err}"
        ) from err
    region = (down & graph.ancestors(end)) | {id(end)}
    return start, end, region


def _check_disjoint(graph, reps, plans):
    for i in range(len(reps)):
        for j in range(i + 1, len(reps)):
            shared = plans[i][2] & plans[j][2]
            if shared:
                raise ValueError(
                    "Replacements must not overlap; "
                    f"'{reps[i].start}' -> '{reps[i].end}' and "
                    f"'{reps[j].start}' -> '{reps[j].end}' both replace "
                    f"{_layer_names(graph, shared)}. Received: replacements="
                    f"{[(r.start, r.end) for r in reps]}"
                )


def _check_adapter_names(graph, reps):
    names = [r.adapter_name for r in reps]
    taken = set(graph.layer_names())
    for name in names:
        if names.count(name) > 1 or name in taken:
            raise ValueError(
                f"Adapter name '{name}' is used twice or is already a layer "
                "of the teacher; pass `Replacement(name=...)`. "
                f"Received: adapter names {names}"
            )


def _inline(teacher, reps):
    """A teacher that wraps nested models (a backbone inside a
    `Sequential`) is adapted as one graph: its nested models inlined
    (weights shared), the replacements' paths (`"backbone/block3_out"`)
    named by their layer in it. Other teachers pass through."""
    flat, _ = inline_nested(teacher)
    if flat is teacher:
        return teacher, reps
    counts = collections.Counter(layer.name for layer in flat.layers)

    def inner(path, arg):
        name = path.rsplit("/", 1)[-1]
        if counts[name] > 1:
            raise ValueError(
                f"The layer {name!r} of `{arg}` appears {counts[name]} times "
                "once the teacher's nested models are inlined; give it a "
                f"unique name. Received: {arg}={path!r}"
            )
        return name

    return flat, tuple(
        dataclasses.replace(
            r, start=inner(r.start, "start"), end=inner(r.end, "end")
        )
        for r in reps
    )


def _layer_names(graph, tensor_ids):
    names = []
    for node in graph.nodes:
        if any(id(t) in tensor_ids for t in node.output_tensors):
            names.append(node.operation.name)
    return names


def _ends_in_relu(graph, tensor):
    """Whether `tensor` is a ReLU output (looking through `Identity`)."""
    while True:
        node = graph.producer(tensor)
        if node is None:
            return False
        layer = unwrap(node.operation)
        if isinstance(layer, keras.layers.Identity):
            tensor = node.input_tensors[0]
            continue
        if isinstance(layer, keras.layers.ReLU):
            config = layer.get_config()
            return not config.get("negative_slope") and not config.get(
                "threshold"
            )
        if isinstance(layer, _ACTIVATED):
            return layer.activation is keras.activations.relu
        return False


def _rebuild(graph, subs, name):
    """Re-calls the original layers (frozen), with adapters substituted."""
    values = {}
    inputs = []
    for tensor in graph.inputs:
        new = keras.Input(
            batch_shape=tuple(tensor.shape),
            dtype=tensor.dtype,
            name=compat.producing_layer(tensor).name,
        )
        values[id(tensor)] = new
        inputs.append(new)
    wrappers = {}

    def deps(tensor):
        if id(tensor) in subs:
            return [subs[id(tensor)][0]]
        return graph.producer(tensor).input_tensors

    stack = list(graph.outputs)
    while stack:
        tensor = stack[-1]
        if id(tensor) in values:
            stack.pop()
            continue
        missing = [d for d in deps(tensor) if id(d) not in values]
        if missing:
            stack.extend(missing)
            continue
        stack.pop()
        if id(tensor) in subs:
            start, adapter = subs[id(tensor)]
            values[id(tensor)] = adapter(values[id(start)])
            continue
        node = graph.producer(tensor)
        layer = node.operation
        if id(layer) not in wrappers:
            # Plain operations (e.g. `x + y` on symbolic tensors) hold no
            # weights and no training behaviour: they are re-called as is.
            frozen = isinstance(layer, FrozenLayer) or not isinstance(
                layer, keras.layers.Layer
            )
            wrappers[id(layer)] = layer if frozen else FrozenLayer(layer)
        args, kwargs = node.arguments.fill_in(values)
        outs = wrappers[id(layer)](*args, **kwargs)
        for ref, out in zip(node.output_tensors, keras.tree.flatten(outs)):
            values[id(ref)] = out
    outputs = [values[id(t)] for t in graph.outputs]
    return keras.Model(
        inputs[0] if len(inputs) == 1 else inputs,
        outputs[0] if len(outputs) == 1 else outputs,
        name=name,
    )
