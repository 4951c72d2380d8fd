"""Relational knowledge distillation: distances and angles."""

from keras import ops

from kd_toolkit.losses.loss_registry import register
from kd_toolkit.losses.relational import RelationalLoss
from kd_toolkit.losses.relational import l2_normalize
from kd_toolkit.losses.relational import pairwise_distances
from kd_toolkit.losses.relational import smooth_l1
from kd_toolkit.utils.validation import check_non_negative


@register("rkd")
class RKD(RelationalLoss):
    """Relational KD: the student keeps the teacher's distances between
    examples and the angles they form.

    Park, Kim, Lu, Cho, "Relational Knowledge Distillation", CVPR 2019,
    https://arxiv.org/abs/1904.05068.

    With `t_i` the flattened activations of example `i` and `ℓ` the Huber
    (smooth L1) loss:

    ```
    ψ_D(i, j) = ‖t_i − t_j‖ / μ,   μ = mean over i ≠ j of ‖t_i − t_j‖
    ψ_A(i, j, k) = ⟨e_ij, e_kj⟩,   e_ij = (t_i − t_j) / ‖t_i − t_j‖
    loss_i = weight · (w_D · mean_j ℓ(ψ_D^S − ψ_D^T)(i, j)
                       + w_A · mean_{j,k} ℓ(ψ_A^S − ψ_A^T)(i, j, k))
    ```

    so the batch mean is the paper's average over pairs and triplets (pairs
    with `i = j` contribute 0 to both models' distances). Defaults are the
    paper's (`w_D = 25`, `w_A = 50`); torchdistill's `RKDLoss` at the same
    weights (checked on fixtures, `tests/losses/reference`). The two
    layers may have any sizes.
    Angles cost `O(b³ · d)` memory and time per batch.

    Args:
        teacher_layer: str. Teacher layer name (penultimate embedding).
        student_layer: str. Student layer name.
        distance_weight: float >= 0. `w_D`. Defaults to `25.0`.
        angle_weight: float >= 0. `w_A`. Defaults to `50.0`.
        weight: float >= 0. Multiplier of the whole loss. Defaults to `1.0`.
        name: str. Layer name; the metric is reported as `rkd_loss`.

    Returns:
        From `compute`: `{"rkd_loss": per-sample loss of shape (batch,)}`.

    Raises:
        TypeError: if a layer name is not a non-empty string.
        ValueError: on a negative weight.

    Example:

    ```python
    rkd = kd_toolkit.losses.RKD("pool", "pool")
    ```
    """

    def __init__(
        self,
        teacher_layer,
        student_layer,
        distance_weight=25.0,
        angle_weight=50.0,
        weight=1.0,
        name="rkd",
        **kwargs,
    ):
        super().__init__(
            teacher_layer, student_layer, weight=weight, name=name, **kwargs
        )
        self.distance_weight = check_non_negative(
            "distance_weight", distance_weight
        )
        self.angle_weight = check_non_negative("angle_weight", angle_weight)

    def relation_loss(self, t, s):
        d_t, d_s = _normalized_distances(t), _normalized_distances(s)
        distance = ops.mean(smooth_l1(d_s - d_t), axis=-1)
        angle = ops.mean(smooth_l1(_angles(s) - _angles(t)), axis=(1, 2))
        return self.distance_weight * distance + self.angle_weight * angle

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "distance_weight": self.distance_weight,
                "angle_weight": self.angle_weight,
            }
        )
        return config


def _normalized_distances(x):
    d = pairwise_distances(x)
    batch = ops.cast(ops.shape(x)[0], "float32")
    mean = ops.sum(d) / ops.maximum(batch * (batch - 1.0), 1.0)
    return d / ops.maximum(mean, 1e-12)


def _angles(x):
    """`ψ_A[i, j, k] = ⟨e_ij, e_kj⟩` with `e_ij` the unit vector from `x_j`
    to `x_i` (0 when `i = j`), shape `(b, b, b)` indexed `[i, j, k]`."""
    e = l2_normalize(x[:, None, :] - x[None, :, :])  # [i, j, :]
    return ops.einsum("ijd,kjd->ijk", e, e)
