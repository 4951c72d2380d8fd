"""The loss of one Distiller step: the student's hard-label term and every
distillation term, per sample, reduced over the batch."""

import collections
import dataclasses

import keras
import tensorflow as tf
from keras import ops

from kd_toolkit.data.catalog import UNLABELED
from kd_toolkit.distiller import loss_reduction
from kd_toolkit.distiller.output_kind import one_hot_labels
from kd_toolkit.distiller.output_kind import to_logits
from kd_toolkit.distiller.teacher_source import unique
from kd_toolkit.losses.base import LossInputs

STUDENT_LOSS = "student_loss"

# One step's losses: `terms` (metric name -> batch-reduced value), `total`
# (their sum, plus the student's regularization losses in training) and
# `labeled` (float32 (batch,), 1 for a labeled example).
StepLosses = collections.namedtuple("StepLosses", ["terms", "total", "labeled"])


def labels_and_mask(y, like, num_classes):
    """Labels -> `(one-hot float32 (batch, classes), labeled float32
    (batch,))`.

    No labels (`y` None), the class id `UNLABELED` (-1) and a row of zeros
    mark unlabeled examples: a zero one-hot row and 0 in `labeled`. Integer
    labels are checked to be in range first (an assertion that also holds
    under XLA). `like`: a `(batch, ...)` tensor giving the batch size when
    `y` is None.
    """
    if y is None:
        batch = ops.shape(like)[0]
        return (
            ops.zeros((batch, num_classes), "float32"),
            ops.zeros((batch,), "float32"),
        )
    y = tf.convert_to_tensor(y)
    if y.shape.rank == 2 and y.shape[-1] == num_classes:
        labels = one_hot_labels(y, num_classes)
        return labels, ops.cast(ops.sum(labels, axis=-1) > 0, "float32")
    y = tf.reshape(tf.cast(y, "int32"), [-1])
    with tf.control_dependencies(
        [
            tf.debugging.assert_greater_equal(
                y,
                UNLABELED,
                message="Labels must be in [0, num_classes), or -1 for "
                "an unlabeled example. Received: a label < -1 in y",
            ),
            tf.debugging.assert_less(
                y,
                num_classes,
                message=f"Labels must be in [0, num_classes={num_classes}). "
                "Received: a label >= num_classes in y",
            ),
        ]
    ):
        # one_hot of -1 is a row of zeros.
        labels = one_hot_labels(y, num_classes)
        return labels, ops.cast(y >= 0, "float32")


class LossAssembly:
    """Sums a Distiller's terms for one step.

    Per sample: `student_loss_weight · CE(y, student)` (or the loss given to
    `compile`) and each distillation loss's named terms (two losses that
    report the same name add up). Hard-label terms are averaged over the
    labeled examples only, the others over the whole batch, as Keras
    reduces (`loss_reduction`). A loss that trains the teacher reads its
    live outputs with gradients; every other loss reads them stopped.

    Args:
        losses: list of `DistillationLoss` (built).
        student_loss_weight: float >= 0.
        num_classes: int. Classes of the student's output.
        student_outputs: `"logits"` or `"probabilities"`.

    Keras must not track this object (the Distiller tracks the losses).
    """

    def __init__(
        self, losses, student_loss_weight, num_classes, student_outputs
    ):
        self.losses = losses
        self.student_loss_weight = student_loss_weight
        self.num_classes = num_classes
        self.student_outputs = student_outputs
        # The hard-label loss of `compile(loss=...)`, None for the default.
        self.student_loss_fn = None
        self.term_names = [STUDENT_LOSS] + unique(
            name for loss in losses for name in loss.metric_names()
        )
        self.label_terms = {STUDENT_LOSS} | {
            name for loss in losses for name in loss.label_term_names()
        }

    def __call__(self, y, sample_weight, teacher, student, training):
        """`StepLosses` of a step from its labels (`y`, or None), the
        `TeacherSignals` and the student's `ModelOutputs`."""
        labels, labeled = labels_and_mask(y, student.output, self.num_classes)
        s_logits = to_logits(student.output, self.student_outputs)
        per_sample = {
            STUDENT_LOSS: self.student_loss_weight
            * self._hard_label_loss(y, labels, labeled, student, s_logits)
        }
        with_gradients = LossInputs(
            labels=labels,
            teacher_logits=teacher.logits,
            student_logits=s_logits,
            teacher_features=teacher.features,
            student_features=student.features,
            training=training,
            live_teacher_logits=teacher.live_logits,
            labeled=labeled,
        )
        stopped = dataclasses.replace(
            with_gradients,
            teacher_logits=ops.stop_gradient(teacher.logits),
            teacher_features={
                k: ops.stop_gradient(v) for k, v in teacher.features.items()
            },
            live_teacher_logits=(
                None
                if teacher.live_logits is None
                else ops.stop_gradient(teacher.live_logits)
            ),
        )
        for loss in self.losses:
            inputs = with_gradients if loss.trains_teacher else stopped
            for name, value in loss.compute(inputs).items():
                per_sample[name] = per_sample.get(name, 0.0) + value
        terms = {
            n: loss_reduction.labeled_mean(v, labeled, sample_weight)
            if n in self.label_terms
            else loss_reduction.batch_mean(v, sample_weight)
            for n, v in per_sample.items()
        }
        return StepLosses(terms, sum(terms.values()), labeled)

    def _hard_label_loss(self, y, labels, labeled, student, s_logits):
        if self.student_loss_fn is None:
            return keras.losses.categorical_crossentropy(
                labels, s_logits, from_logits=True
            )
        if y is None:
            return ops.zeros_like(labeled)
        fn = self.student_loss_fn
        if isinstance(fn, keras.losses.Loss):
            fn = fn.call  # unreduced: sample weights apply later
        return ops.cast(
            fn(loss_reduction.known_labels(y), student.output), "float32"
        )
