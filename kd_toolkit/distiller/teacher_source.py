"""Where a Distiller step gets the teacher's outputs from.

Four sources, chosen per step: the batch's cached outputs (from a
`TeacherLogitsCache`), the live frozen teacher, its batch-norm-folded
graph (the same function, one pass less per convolution), or the live
teacher in training mode when a loss trains it (AMA's adapted teacher).
Each gives the step the same named `TeacherSignals`.
"""

import collections

from keras import ops

from kd_toolkit.distiller import batch_norm_folding
from kd_toolkit.distiller import feature_taps
from kd_toolkit.distiller import teacher_cache
from kd_toolkit.distiller.output_kind import to_logits

# A model's output and its tapped layer outputs, by layer name.
ModelOutputs = collections.namedtuple("ModelOutputs", ["output", "features"])

# What the losses read of the teacher in one step: `logits` (cached when
# the batch has them, else live), `live_logits` (the teacher that ran in
# this step, or None) and `features` (layer name -> output).
TeacherSignals = collections.namedtuple(
    "TeacherSignals", ["logits", "live_logits", "features"]
)

# The teacher outputs a cached batch carries: `outputs` (None for an
# ordinary batch) and `features` (layer name -> cached output).
CachedTeacher = collections.namedtuple("CachedTeacher", ["outputs", "features"])


def run_model(model, view, names, x, training):
    """`ModelOutputs` of `model` on `x`, through its feature `view` (a
    model giving `[output, *features(names)]`) when it has one."""
    if view is None:
        return ModelOutputs(model(x, training=training), {})
    output, *features = view(x, training=training)
    return ModelOutputs(output, dict(zip(names, features)))


class TeacherSource:
    """The teacher of a Distiller, and how each step reads it.

    Args:
        teacher: the teacher `keras.Model`.
        view: its feature view (`feature_taps.build_view`), or None.
        feature_names: tuple of str. The teacher layers the losses read.
        output_kind: `"logits"` or `"probabilities"`.
        trains_teacher: bool. A loss trains the teacher: it runs in every
            training step, in training mode, and its outputs carry
            gradients.
        fold_batch_norm: bool. Run the frozen teacher from its
            batch-norm-folded graph (ignored when it trains).

    Keras must not track this object (it holds models the Distiller
    already tracks, and the folded graph shares the teacher's variables,
    which are saved once, with the teacher): it is a plain Python object.
    """

    def __init__(
        self,
        teacher,
        view,
        feature_names,
        output_kind,
        trains_teacher,
        fold_batch_norm,
    ):
        self.teacher = teacher
        self.view = view
        self.feature_names = tuple(feature_names)
        self.output_kind = output_kind
        self.trains_teacher = bool(trains_teacher)
        self.folded = None
        if fold_batch_norm and not self.trains_teacher:
            graph = view or teacher
            folded = batch_norm_folding.fold_batch_norm(
                graph, keep=self.feature_names
            )
            if folded is not graph:
                self.folded = folded

    def must_run(self, cached):
        """Whether the teacher runs in a step with these `CachedTeacher`
        outputs: cached logits (and features) stand in for it, but a loss
        that reads a feature the cache lacks, or trains the teacher, still
        needs it."""
        missing = any(n not in cached.features for n in self.feature_names)
        return cached.outputs is None or missing or self.trains_teacher

    def run(self, x, training):
        """`ModelOutputs` of the live teacher; in inference, from its
        batch-norm-folded graph when there is one."""
        if self.folded is not None and not training:
            outputs = self.folded(x, training=False)
            if not self.feature_names:
                return ModelOutputs(outputs, {})
            output, *features = outputs
            return ModelOutputs(output, dict(zip(self.feature_names, features)))
        return run_model(
            self.teacher, self.view, self.feature_names, x, training
        )

    def signals(self, cached, live):
        """`TeacherSignals` of a step from its `CachedTeacher` outputs and
        the live teacher's `ModelOutputs` (None when it did not run).
        Gradients stop at a frozen teacher."""
        live_logits = (
            None if live is None else to_logits(live.output, self.output_kind)
        )
        logits = (
            live_logits
            if cached.outputs is None
            else to_logits(cached.outputs, self.output_kind)
        )
        source = cached.features if live is None else live.features
        features = {n: source[n] for n in self.feature_names}
        if not self.trains_teacher:
            logits = ops.stop_gradient(logits)
            features = {k: ops.stop_gradient(v) for k, v in features.items()}
        return TeacherSignals(logits, live_logits, features)


def build_views(teacher, student, losses):
    """`(teacher names, teacher view, student names, student view)`: the
    layers the losses read, in order, and the models that tap them. Builds
    each loss from the shapes of the layers it reads."""
    teacher_names = unique(
        n for loss in losses for n in loss.teacher_feature_names()
    )
    student_names = unique(
        n for loss in losses for n in loss.student_feature_names()
    )
    views = (
        teacher_names,
        feature_taps.build_view(teacher, teacher_names, "teacher"),
        student_names,
        feature_taps.build_view(student, student_names, "student"),
    )
    t_shapes = {
        n: feature_taps.feature_shape(teacher, n) for n in teacher_names
    }
    s_shapes = {
        n: feature_taps.feature_shape(student, n) for n in student_names
    }
    for loss in losses:
        loss.build_from_features(t_shapes, s_shapes)
    return views


def split_batch(x):
    """`(inputs, CachedTeacher)` of a batch's inputs (`CachedTeacher(None,
    {})` for an ordinary batch)."""
    x, outputs, features = teacher_cache.split_inputs(x)
    return x, CachedTeacher(outputs, features)


def unique(items):
    """`items` without repeats, in first-seen order."""
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen
