"""Decoupled knowledge distillation: target and non-target terms apart."""

from keras import ops

from kd_toolkit.losses.base import DistillationLoss
from kd_toolkit.losses.kd import standardize_logits
from kd_toolkit.losses.loss_registry import register
from kd_toolkit.utils.validation import check_bool
from kd_toolkit.utils.validation import check_non_negative
from kd_toolkit.utils.validation import check_positive

# Added to the target logit to drop the target class from a softmax
# (the authors' code subtracts 1000 after scaling; -inf would give NaN
# gradients through 0 * inf).
_MASK = 1000.0


@register("dkd")
class DKD(DistillationLoss):
    """Decoupled KD: the target-class and non-target-class terms of KD,
    weighted separately.

    Zhao, Cui, Song, Qiu, Liang, "Decoupled Knowledge Distillation",
    CVPR 2022, https://arxiv.org/abs/2203.08679.

    Per sample, with label `y`, teacher logits `t`, student logits `s` and
    temperature `τ`:

    ```
    p = softmax(t/τ), q = softmax(s/τ)
    b_t = (p_y, 1 − p_y),  b_s = (q_y, 1 − q_y)        binary: target or not
    p̂ = softmax over c ≠ y of t/τ,  q̂ = the same of s/τ  among non-targets
    TCKD = τ² · KL(b_t ‖ b_s),  NCKD = τ² · KL(p̂ ‖ q̂)
    loss = weight · warm · (α · TCKD + β · NCKD),  warm = min(step / W, 1)
    ```

    Classical KD is `TCKD + (1 − p_y) · NCKD`: the non-target knowledge is
    suppressed exactly where the teacher is confident. DKD frees `β`.
    Defaults are the paper's CIFAR-100 ones (`α = 1`, `β = 8`, `τ = 4`);
    the paper ramps the loss up over its first 20 of 240 epochs (1/12 of
    training): pass `warmup_steps` for that (0, our default, turns the ramp
    off). With soft or one-hot labels, the target class is the arg-max.
    `standardize=True` z-scores both logit vectors first (Sun et al.,
    CVPR 2024; see `KD`). `tckd_loss + nckd_loss` is the authors'
    `dkd_loss` (mdistiller; logit standardization's with `standardize`)
    at the same weights (checked on fixtures, `tests/losses/reference`).

    Args:
        alpha: float >= 0. Weight `α` of TCKD. Defaults to `1.0`.
        beta: float >= 0. Weight `β` of NCKD. Defaults to `8.0`.
        temperature: float > 0. Defaults to `4.0`.
        warmup_steps: int >= 0. Training steps of the linear ramp `W`
            (counted by the loss, saved with it). Defaults to `0`.
        standardize: bool. Z-score the logits first. Defaults to `False`.
        weight: float >= 0. Multiplier of the loss. Defaults to `1.0`.
        name: str. Layer name; the metrics are `tckd_loss` and `nckd_loss`.

    Returns:
        From `compute`: `{"tckd_loss": ..., "nckd_loss": ...}`, each a
        weighted per-sample loss of shape `(batch,)`.

    Raises:
        ValueError: on a negative `alpha`, `beta`, `weight` or
            `warmup_steps`, or `temperature <= 0`.

    Example:

    ```python
    distiller = kd_toolkit.Distiller(teacher, student, losses=["dkd"])
    distiller = kd_toolkit.Distiller(teacher, student, losses=[
        kd_toolkit.losses.DKD(beta=2.0, warmup_steps=1000)])
    ```
    """

    def __init__(
        self,
        alpha=1.0,
        beta=8.0,
        temperature=4.0,
        warmup_steps=0,
        standardize=False,
        weight=1.0,
        name="dkd",
        **kwargs,
    ):
        super().__init__(weight=weight, name=name, **kwargs)
        self.alpha = check_non_negative("alpha", alpha)
        self.beta = check_non_negative("beta", beta)
        self.temperature = check_positive("temperature", temperature)
        self.standardize = check_bool("standardize", standardize)
        self.add_warm_up(warmup_steps)

    def metric_names(self):
        return ("tckd_loss", "nckd_loss")

    def label_term_names(self):
        # Both terms split the classes at the ground-truth class: without a
        # label there is no target class (use KD on unlabeled images).
        return ("tckd_loss", "nckd_loss")

    def compute(self, inputs):
        tckd, nckd = decoupled_terms(
            inputs.teacher_logits,
            inputs.student_logits,
            inputs.labels,
            self.temperature,
            self.standardize,
        )
        scale = self.weight * self.warm_up_scale(inputs.training)
        return {
            "tckd_loss": scale * self.alpha * tckd,
            "nckd_loss": scale * self.beta * nckd,
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "alpha": self.alpha,
                "beta": self.beta,
                "temperature": self.temperature,
                "warmup_steps": self.warmup_steps,
                "standardize": self.standardize,
            }
        )
        return config


def decoupled_terms(
    teacher_logits, student_logits, labels, temperature, standardize=False
):
    """Per-sample `(TCKD, NCKD)`, each already multiplied by `τ²`."""
    t = ops.cast(teacher_logits, "float32")
    s = ops.cast(student_logits, "float32")
    if standardize:
        t, s = standardize_logits(t), standardize_logits(s)
    t, s = t / temperature, s / temperature
    target = ops.one_hot(
        ops.argmax(labels, axis=-1), ops.shape(t)[-1], dtype="float32"
    )
    p, q = ops.softmax(t, axis=-1), ops.softmax(s, axis=-1)
    p_y = ops.sum(p * target, axis=-1)
    q_y = ops.sum(q * target, axis=-1)
    eps = 1e-12
    tckd = p_y * (ops.log(p_y + eps) - ops.log(q_y + eps)) + (1 - p_y) * (
        ops.log(1 - p_y + eps) - ops.log(1 - q_y + eps)
    )
    log_p_hat = ops.log_softmax(t - _MASK * target, axis=-1)
    log_q_hat = ops.log_softmax(s - _MASK * target, axis=-1)
    nckd = ops.sum(ops.exp(log_p_hat) * (log_p_hat - log_q_hat), axis=-1)
    return temperature**2 * tckd, temperature**2 * nckd
