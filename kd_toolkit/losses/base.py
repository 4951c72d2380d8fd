"""Base class of every distillation loss."""

import dataclasses

import keras
from keras import ops

from kd_toolkit.utils.validation import check_int
from kd_toolkit.utils.validation import check_non_negative


@dataclasses.dataclass(frozen=True)
class LossInputs:
    """Everything a distillation loss may read during one step.

    The `Distiller` builds this once per step. Teacher tensors are already
    under `stop_gradient` unless the loss declares `trains_teacher = True`.

    Attributes:
        labels: float32 tensor `(batch, num_classes)`: one-hot (or soft)
            targets, whatever label format the user fed; a row of zeros
            for an unlabeled example.
        teacher_logits: teacher logits `(batch, num_classes)`: the cached
            logits when the batch carries them (`TeacherLogitsCache`), else
            the teacher's output in this step. A softmax teacher is
            converted to log-probabilities, which are logits up to a per-row
            constant.
        student_logits: student logits, same convention.
        teacher_features: dict, layer name -> teacher activation, for the
            names the loss listed in `teacher_feature_names()`.
        student_features: dict, layer name -> student activation.
        training: Python bool, whether this is a training step.
        live_teacher_logits: the teacher model's own logits in this step,
            or None when it did not run (cached logits and no feature
            loss). They differ from `teacher_logits` when a cached batch
            meets a teacher that runs for its features: AMA's adapted
            teacher, taught from the original teacher's cached logits.
        labeled: float32 tensor `(batch,)`, 1 for an example with a label
            and 0 for one without (label-free or semi-supervised
            distillation), or None when every example is labeled. Terms
            named in `label_term_names()` are averaged over the labeled
            examples only; a loss reading the labels elsewhere (e.g. for
            a metric) weighs them with it.
    """

    labels: object
    teacher_logits: object
    student_logits: object
    teacher_features: dict
    student_features: dict
    training: bool
    live_teacher_logits: object = None
    labeled: object = None


class DistillationLoss(keras.layers.Layer):
    """A weighted distillation term that the `Distiller` adds to its loss.

    A loss declares the hidden activations it needs by layer name
    (`teacher_feature_names()`, `student_feature_names()`); the `Distiller`
    builds the multi-output views once and hands the tensors over in a
    `LossInputs`. A loss may own trainable parts (connectors, adapters):
    it is a `keras.layers.Layer`, so they are tracked, trained and saved.

    Subclasses implement `compute(inputs)` and return a dict mapping a metric
    name (for example `"kd_loss"`) to a per-sample loss of shape `(batch,)`,
    already multiplied by its weight. The `Distiller` reduces each one with
    the sample weights over the global batch and reports it as a metric.

    Args:
        weight: float. Multiplier of the loss. Defaults to `1.0`.
        name: str. Layer name, also the prefix of the reported metric.
        **kwargs: forwarded to `keras.layers.Layer`.

    Raises:
        ValueError: if `weight` is negative or not finite.
    """

    # Whether the loss trains parts of the teacher (e.g. adapters). When
    # False, the Distiller freezes the teacher and passes its tensors under
    # stop_gradient.
    trains_teacher = False

    def __init__(self, weight=1.0, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.weight = check_non_negative("weight", weight)

    def teacher_feature_names(self):
        """Names of the teacher layers whose outputs this loss reads."""
        return ()

    def student_feature_names(self):
        """Names of the student layers whose outputs this loss reads."""
        return ()

    def metric_names(self):
        """Names of the terms `compute` returns, reported as metrics."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement `metric_names()`."
        )

    def label_term_names(self):
        """Names of the terms `compute` derives from the hard labels.

        The `Distiller` averages these over the labeled examples of a
        batch only (their value on an unlabeled example is meaningless),
        and every other term over the whole batch: on unlabeled images
        only the distillation terms train the student. Defaults to none.
        """
        return ()

    def build_from_features(self, teacher_shapes, student_shapes):
        """Creates trainable parts once the feature shapes are known.

        Args:
            teacher_shapes: dict, layer name -> shape tuple (batch first).
            student_shapes: dict, layer name -> shape tuple (batch first).
        """
        del teacher_shapes, student_shapes
        self.built = True

    def add_warm_up(self, warmup_steps):
        """Gives the loss a linear warm-up of `warmup_steps` training steps
        (0: none): sets `warmup_steps` and the step counter `steps`, a
        non-trainable variable saved and restored with the loss.

        Raises:
            ValueError: if `warmup_steps` is not an int >= 0.
        """
        self.warmup_steps = check_int("warmup_steps", warmup_steps, 0)
        self.steps = self.add_weight(
            shape=(),
            initializer="zeros",
            trainable=False,
            name="steps",
            aggregation="only_first_replica",
        )

    def warm_up_scale(self, training):
        """`min(step / warmup_steps, 1)` after counting this step when
        `training`; `1.0` without a warm-up (see `add_warm_up`)."""
        if not self.warmup_steps:
            return 1.0
        if training:
            self.steps.assign_add(1.0)
        return ops.minimum(self.steps / self.warmup_steps, 1.0)

    def compute(self, inputs):
        """Returns a dict of weighted per-sample losses, each `(batch,)`."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement `compute(inputs)`."
        )

    def get_config(self):
        config = super().get_config()
        config.update({"weight": self.weight})
        # `trainable` and `dtype` are Layer plumbing, not constructor args
        # a user passes to a loss.
        config.pop("trainable", None)
        config.pop("dtype", None)
        return config
