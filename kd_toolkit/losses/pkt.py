"""Probabilistic knowledge transfer."""

from keras import ops

from kd_toolkit.losses.loss_registry import register
from kd_toolkit.losses.relational import RelationalLoss
from kd_toolkit.losses.relational import l2_normalize

_EPSILON = 1e-7


@register("pkt")
class PKT(RelationalLoss):
    """Probabilistic knowledge transfer: match the distributions of
    cosine similarities between the examples of a batch.

    Passalis & Tefas, "Learning Deep Representations with Probabilistic
    Knowledge Transfer", ECCV 2018, https://arxiv.org/abs/1803.10837.

    With `f_i` the flattened, L2-normalised activations of example `i`:

    ```
    K_ij = (f_i · f_j + 1) / 2,   P_j|i = K_ij / Σ_k K_ik   (per model)
    loss_i = weight · Σ_j P^T_j|i · log(P^T_j|i / P^S_j|i)
    ```

    a KL divergence per example. **Scale**: the authors' code (and
    torchdistill's `PKTLoss`) averages the same terms over both `i` and
    `j`, which divides our value by the batch size `b`: `weight = 1/b`
    reproduces it (checked on fixtures, `tests/losses/reference`).
    The two layers may have any sizes.

    Args:
        teacher_layer: str. Teacher layer name.
        student_layer: str. Student layer name.
        weight: float >= 0. Defaults to `1.0`.
        name: str. Layer name; the metric is reported as `pkt_loss`.

    Returns:
        From `compute`: `{"pkt_loss": per-sample loss of shape (batch,)}`.

    Raises:
        TypeError: if a layer name is not a non-empty string.
        ValueError: if `weight < 0`.

    Example:

    ```python
    pkt = kd_toolkit.losses.PKT("pool", "pool")
    ```
    """

    def __init__(
        self, teacher_layer, student_layer, weight=1.0, name="pkt", **kwargs
    ):
        super().__init__(
            teacher_layer, student_layer, weight=weight, name=name, **kwargs
        )

    def relation_loss(self, t, s):
        p_t, p_s = conditional_similarities(t), conditional_similarities(s)
        return ops.sum(
            p_t * (ops.log(p_t + _EPSILON) - ops.log(p_s + _EPSILON)), axis=-1
        )


def conditional_similarities(x):
    """`P_j|i` of PKT for embeddings `x` `(b, d)`."""
    x = l2_normalize(x)
    kernel = (ops.matmul(x, ops.transpose(x)) + 1.0) / 2.0
    return kernel / ops.sum(kernel, axis=-1, keepdims=True)
