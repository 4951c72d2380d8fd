"""Hinton knowledge distillation on softened logits."""

import keras
from keras import ops

from kd_toolkit.losses.base import DistillationLoss
from kd_toolkit.losses.base import check_positive


@keras.saving.register_keras_serializable(package="kd_toolkit")
class KD(DistillationLoss):
    """Hinton knowledge distillation: match the teacher's softened outputs.

    Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network",
    NIPS Deep Learning Workshop 2014, https://arxiv.org/abs/1503.02531.

    Per sample, with teacher logits `t`, student logits `s`, temperature `τ`:

    ```
    p = softmax(t / τ),  q = softmax(s / τ)
    loss = weight · τ² · Σ_c p_c · (log p_c − log q_c)
    ```

    The `τ²` factor keeps the gradient magnitude of the soft term comparable
    to the hard-label cross-entropy when `τ` changes (section 2 of the
    paper). The math runs in float32 even under mixed precision.

    Args:
        temperature: float > 0. Softening temperature `τ`. Defaults to `4.0`.
        weight: float >= 0. Multiplier of the loss. Defaults to `1.0`.
        name: str. Layer name; the metric is reported as `kd_loss`.

    Returns:
        From `compute`: `{"kd_loss": per-sample loss of shape (batch,)}`.

    Raises:
        ValueError: if `temperature <= 0` or `weight < 0`.

    Example:

    ```python
    distiller = kd_toolkit.Distiller(
        teacher, student, losses=[kd_toolkit.losses.KD(temperature=4.0)])
    ```
    """

    def __init__(self, temperature=4.0, weight=1.0, name="kd", **kwargs):
        super().__init__(weight=weight, name=name, **kwargs)
        self.temperature = check_positive("temperature", temperature)

    def metric_names(self):
        return ("kd_loss",)

    def compute(self, inputs):
        return {
            "kd_loss": self.weight
            * kd_divergence(
                inputs.teacher_logits, inputs.student_logits, self.temperature
            )
        }

    def get_config(self):
        config = super().get_config()
        config.update({"temperature": self.temperature})
        return config


def kd_divergence(teacher_logits, student_logits, temperature):
    """Per-sample `τ² · KL(softmax(t/τ) ‖ softmax(s/τ))` in float32."""
    t = ops.cast(teacher_logits, "float32") / temperature
    s = ops.cast(student_logits, "float32") / temperature
    log_p = ops.log_softmax(t, axis=-1)
    log_q = ops.log_softmax(s, axis=-1)
    kl = ops.sum(ops.exp(log_p) * (log_p - log_q), axis=-1)
    return (temperature**2) * kl
