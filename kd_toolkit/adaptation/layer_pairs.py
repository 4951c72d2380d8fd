"""Proposes which teacher layer should supervise which student layer."""

import dataclasses

from kd_toolkit.adaptation.graph import find_cuts


@dataclasses.dataclass(frozen=True)
class LayerPair:
    """A teacher layer and a student layer with maps of the same size.

    Attributes:
        teacher_layer: name of the teacher layer.
        student_layer: name of the student layer.
        resolution: their common spatial size `(h, w)`.
        teacher_shape: teacher output shape without the batch dimension.
        student_shape: student output shape without the batch dimension.
    """

    teacher_layer: str
    student_layer: str
    resolution: tuple
    teacher_shape: tuple
    student_shape: tuple


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
            )
            for p in self
        ]
        head = (
            "resolution",
            "teacher layer",
            "shape",
            "student layer",
            "shape",
        )
        widths = [max(len(r[i]) for r in [*rows, head]) for i in range(5)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        return "\n".join(
            [
                f"Proposed layer pairs ({len(rows)}):",
                fmt.format(*head),
                fmt.format(*("-" * w for w in widths)),
                *(fmt.format(*r).rstrip() for r in rows),
            ]
        )


def propose_layer_pairs(teacher, student):
    """Pairs teacher and student layers at matching spatial resolutions.

    For every spatial size that both models' feature maps pass through, the
    last block boundary at that size in each model (a stage output, see
    `find_cuts`) is paired; where a model has no block boundary at that
    size, its narrowest map there (the last of those: the block outputs of
    inverted-residual networks such as MobileNetV2 are their narrow
    tensors). The input images are never paired. Works on any two
    functional models, `keras.applications` included, whatever their layer
    names.

    Args:
        teacher: functional or built sequential `keras.Model`.
        student: functional or built sequential `keras.Model`.

    Returns:
        `LayerPairs` from the largest resolution to the smallest; `print()`
        it for a table, `.names()` for the `(teacher, student)` names.

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
            "The teacher and the student share no feature-map resolution. "
            f"Received: teacher '{teacher.name}' resolutions "
            f"{list(stages[0])}, student '{student.name}' resolutions "
            f"{list(stages[1])}"
        )
    pairs = []
    for resolution in sorted(common, key=lambda r: (-r[0] * r[1], r)):
        t, s = stages[0][resolution], stages[1][resolution]
        pairs.append(LayerPair(t.layer, s.layer, resolution, t.shape, s.shape))
    return LayerPairs(pairs)


def _stage_outputs(model):
    """`{(h, w): Cut}`: the last block boundary at each size, else the last
    of the narrowest cuts there; the input images are not features."""
    inputs = {t._keras_history[0].name for t in model.inputs}
    out = {}
    for resolution, cuts in find_cuts(model).by_resolution().items():
        cuts = [c for c in cuts if c.layer not in inputs]
        if not cuts:
            continue
        narrowest = min(c.shape[-1] for c in cuts)
        blocks = [c for c in cuts if c.block_boundary]
        out[resolution] = (
            blocks or [c for c in cuts if c.shape[-1] == narrowest]
        )[-1]
    return out
