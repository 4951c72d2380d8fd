"""Proposes which teacher layer should supervise which student layer."""

import dataclasses
import re

from kd_toolkit.adaptation.graph import feature_maps
from kd_toolkit.adaptation.graph import find_cuts
from kd_toolkit.utils import compat


@dataclasses.dataclass(frozen=True)
class LayerPair:
    """A teacher layer and a student layer with maps of the same size.

    Attributes:
        teacher_layer: name of the teacher layer (a path inside a nested
            model: `"backbone/block3_out"`).
        student_layer: name of the student layer.
        resolution: their common spatial size `(h, w)`.
        teacher_shape: teacher output shape without the batch dimension.
        student_shape: student output shape without the batch dimension.
        reason: why these two layers: what each one is at that size.
    """

    teacher_layer: str
    student_layer: str
    resolution: tuple
    teacher_shape: tuple
    student_shape: tuple
    reason: str = ""

    @property
    def auto_named(self):
        """Whether a name is one Keras made up (`activation_17`): such
        names depend on how many layers the process built before, so they
        change from one session to the next."""
        return is_auto_name(self.teacher_layer) or is_auto_name(
            self.student_layer
        )


class LayerPairs(tuple):
    """The proposed `LayerPair`s, printable as a table; a tuple."""

    def names(self):
        """`[(teacher_layer, student_layer), ...]`, the form feature losses
        take (`AttentionTransfer(layer_pairs=...)`)."""
        return [(p.teacher_layer, p.student_layer) for p in self]

    def __str__(self):
        rows = [
            (
                "x".join(map(str, p.resolution)),
                p.teacher_layer,
                str(p.teacher_shape),
                p.student_layer,
                str(p.student_shape),
                p.reason,
            )
            for p in self
        ]
        head = (
            "resolution",
            "teacher layer",
            "shape",
            "student layer",
            "shape",
            "why",
        )
        widths = [max(len(r[i]) for r in [*rows, head]) for i in range(6)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        lines = [
            f"Proposed layer pairs ({len(rows)}):",
            fmt.format(*head),
            fmt.format(*("-" * w for w in widths)),
            *(fmt.format(*r).rstrip() for r in rows),
        ]
        if any(p.auto_named for p in self):
            lines.append(
                "* a name Keras generated (e.g. activation_17): it changes "
                "when the model is built in another process; name the layer "
                "to keep the pair stable."
            )
        return "\n".join(lines)


def propose_layer_pairs(teacher, student):
    """Pairs teacher and student layers at matching spatial resolutions.

    For every spatial size larger than 1×1 that both models' feature maps
    pass through, one layer of each model is paired:

    1. the last block boundary at that size (a stage output, see
       `find_cuts`), preferring a name the model's author gave over one
       Keras generated (`activation_17` changes between sessions);
    2. where the model has no block boundary there, its narrowest cut
       (the block outputs of inverted-residual networks such as
       MobileNetV2 are their narrow tensors);
    3. where it has no cut there at all (cells that read the two previous
       cells, as in NASNet), the last merge output (a cell's
       `Concatenate`) at that size.

    1×1 maps are never paired: an attention map over one position is
    constant (attention transfer on it is exactly 0), and a 1×1 map is
    often the classifier. The input images are never paired. Works on any
    two functional or sequential models, `keras.applications` and models
    wrapping them included (nested layers are named by their path).

    Args:
        teacher: functional or built sequential `keras.Model`.
        student: functional or built sequential `keras.Model`.

    Returns:
        `LayerPairs` from the largest resolution to the smallest; `print()`
        it for a table with the reason for each pair, `.names()` for the
        `(teacher, student)` names.

    Raises:
        TypeError / ValueError: if a model has no layer graph.
        ValueError: if the two models share no feature-map resolution.

    Example:

    ```python
    pairs = kd_toolkit.adaptation.propose_layer_pairs(teacher, student)
    print(pairs)
    loss = kd_toolkit.losses.AttentionTransfer(layer_pairs=pairs.names())
    ```
    """
    stages = [_stage_outputs(model) for model in (teacher, student)]
    common = [r for r in stages[0] if r in stages[1]]
    if not common:
        raise ValueError(
            "The teacher and the student share no feature-map resolution "
            "larger than 1x1. Received: teacher "
            f"'{teacher.name}' resolutions {list(stages[0])}, student "
            f"'{student.name}' resolutions {list(stages[1])}"
        )
    pairs = []
    for resolution in sorted(common, key=lambda r: (-r[0] * r[1], r)):
        (t, t_why), (s, s_why) = stages[0][resolution], stages[1][resolution]
        why = (
            f"both: {t_why}"
            if t_why == s_why
            else f"teacher: {t_why}; student: {s_why}"
        )
        pairs.append(LayerPair(t[0], s[0], resolution, t[1], s[1], reason=why))
    return LayerPairs(pairs)


def is_auto_name(name):
    """Whether a layer name (or the last part of a path) looks made up by
    Keras: a snake-case layer class name with an optional `_N` counter
    (`activation_17`, `conv2d`, `re_lu_3`)."""
    last = name.rsplit("/", 1)[-1]
    return bool(re.fullmatch(_AUTO_NAME, last))


# Keras names a layer after its class (`Conv2D` -> `conv2d`, `ReLU` ->
# `re_lu`) and a counter: the classes that appear in image models.
_AUTO_NAME = (
    r"(activation|add|average_pooling2d|batch_normalization|concatenate|"
    r"conv2d|depthwise_conv2d|separable_conv2d|dense|dropout|multiply|"
    r"max_pooling2d|re_lu|zero_padding2d|rescaling|normalization|"
    r"global_average_pooling2d|layer_normalization|identity)(_\d+)?"
)


def _stage_outputs(model):
    """`{(h, w): ((name, shape), reason)}`: the map of `model` to pair at
    each size (see `propose_layer_pairs`)."""
    inputs = {compat.producing_layer(t).name for t in model.inputs}
    cuts = {
        r: [c for c in group if c.layer not in inputs]
        for r, group in find_cuts(model).by_resolution().items()
        if r != (1, 1)
    }
    cut_names = {c.layer for group in cuts.values() for c in group}
    order, merges = {}, {}
    for name, shape, merge in feature_maps(model):
        order[name] = len(order)
        resolution = tuple(shape[:2])
        if merge and resolution != (1, 1):
            merges.setdefault(resolution, []).append((name, shape))
    out = {}
    for resolution in sorted(
        set(cuts) | set(merges), key=lambda r: (-r[0] * r[1], r)
    ):
        group = cuts.get(resolution, [])
        # Block ends and cell outputs (merges that are no cut), in graph
        # order: the last of them ends the stage at this size.
        pool = [(c.layer, c.shape) for c in group if c.block_boundary]
        pool += [m for m in merges.get(resolution, []) if m not in pool]
        pool.sort(key=lambda m: order.get(m[0], -1))
        reason = (
            "last block end"
            if pool and pool[-1][0] in cut_names
            else "last merge output (no cut)"
        )
        if not pool and group:
            narrowest = min(c.shape[-1] for c in group)
            pool = [
                (c.layer, c.shape) for c in group if c.shape[-1] == narrowest
            ]
            reason = "narrowest map (no block end)"
        if not pool:
            continue
        stable = [m for m in pool if not is_auto_name(m[0])]
        chosen = (stable or pool)[-1]
        if stable and chosen is not pool[-1]:
            reason = "last block end or cell output with a given name"
        if not stable:
            reason += ", generated name*"
        out[resolution] = (chosen, reason)
    return out
