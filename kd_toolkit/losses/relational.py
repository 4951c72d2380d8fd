"""Base of the losses that compare relations between the examples of a
batch (RKD, similarity preserving, PKT) at one layer of each model."""

from keras import ops

from kd_toolkit.losses.base import DistillationLoss
from kd_toolkit.utils.validation import check_name


class RelationalLoss(DistillationLoss):
    """A loss on one (teacher layer, student layer) pair whose activations
    are flattened to embeddings `(batch, d)`; `d` may differ between the two
    models (relations between examples do not need a connector).

    Subclasses implement `relation_loss(t, s)` on float32 embeddings and
    return the weighted per-sample loss `(batch,)`.

    Args:
        teacher_layer: str. Teacher layer name (e.g. the pooled features).
        student_layer: str. Student layer name.
        weight: float >= 0.
        name: str. Layer name and metric prefix.
    """

    def __init__(
        self, teacher_layer, student_layer, weight=1.0, name=None, **kwargs
    ):
        super().__init__(weight=weight, name=name, **kwargs)
        self.teacher_layer = check_name("teacher_layer", teacher_layer)
        self.student_layer = check_name("student_layer", student_layer)

    def teacher_feature_names(self):
        return (self.teacher_layer,)

    def student_feature_names(self):
        return (self.student_layer,)

    def metric_names(self):
        return (f"{self.name}_loss",)

    def compute(self, inputs):
        t = embeddings(inputs.teacher_features[self.teacher_layer])
        s = embeddings(inputs.student_features[self.student_layer])
        return {f"{self.name}_loss": self.weight * self.relation_loss(t, s)}

    def relation_loss(self, t, s):
        raise NotImplementedError(
            f"{type(self).__name__} must implement `relation_loss(t, s)`."
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "teacher_layer": self.teacher_layer,
                "student_layer": self.student_layer,
            }
        )
        return config


def embeddings(features):
    """Activations `(batch, ...)` flattened to float32 `(batch, d)`."""
    x = ops.cast(features, "float32")
    return ops.reshape(x, (ops.shape(x)[0], -1))


def l2_normalize(x, axis=-1, epsilon=1e-12):
    return x / ops.sqrt(
        ops.maximum(ops.sum(x * x, axis=axis, keepdims=True), epsilon)
    )


def pairwise_distances(x, epsilon=1e-12):
    """Euclidean distances `(b, b)` between the rows of `x`, exactly 0 on
    the diagonal (and a finite gradient there)."""
    squared = ops.sum(x * x, axis=-1)
    d2 = (
        squared[:, None]
        + squared[None, :]
        - 2.0 * ops.matmul(x, ops.transpose(x))
    )
    off_diagonal = 1.0 - ops.eye(ops.shape(x)[0], dtype=x.dtype)
    d2 = ops.maximum(d2, epsilon) * off_diagonal
    return ops.sqrt(d2 + (1.0 - off_diagonal)) * off_diagonal


def smooth_l1(x):
    """Huber loss with δ = 1, elementwise."""
    a = ops.abs(x)
    return ops.where(a < 1.0, 0.5 * x * x, a - 0.5)
