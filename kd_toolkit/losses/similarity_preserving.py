"""Similarity-preserving knowledge distillation."""

from keras import ops

from kd_toolkit.losses.loss_registry import register
from kd_toolkit.losses.relational import RelationalLoss
from kd_toolkit.losses.relational import l2_normalize


@register("sp")
class SimilarityPreserving(RelationalLoss):
    """Similarity preserving: examples similar for the teacher stay similar
    for the student.

    Tung & Mori, "Similarity-Preserving Knowledge Distillation", ICCV 2019,
    https://arxiv.org/abs/1907.09682.

    With `F` the flattened activations `(b, d)` of a batch:

    ```
    G = row_normalize(F Fᵀ)                      (b × b), rows of unit L2 norm
    loss = weight / b² · ‖G_T − G_S‖_F²
    ```

    returned per sample as `weight / b · Σ_j (G_T − G_S)²_ij`, whose batch
    mean is the formula: mdistiller's `sp_loss` at the same weight
    (checked on fixtures, `tests/losses/reference`; torchdistill's
    `SPKDLoss` divides the rows of `G` by their L1 norm, not the paper's
    L2 norm, so it differs). The paper's CIFAR weight is `γ = 3000`. Relations
    between examples need no connector: the two layers may have any sizes.

    Args:
        teacher_layer: str. Teacher layer name.
        student_layer: str. Student layer name.
        weight: float >= 0. The `γ` of the paper. Defaults to `3000.0`.
        name: str. Layer name; the metric is reported as `sp_loss`.

    Returns:
        From `compute`: `{"sp_loss": per-sample loss of shape (batch,)}`.

    Raises:
        TypeError: if a layer name is not a non-empty string.
        ValueError: if `weight < 0`.

    Example:

    ```python
    sp = kd_toolkit.losses.SimilarityPreserving("stage3_out", "stage3_out")
    ```
    """

    def __init__(
        self, teacher_layer, student_layer, weight=3000.0, name="sp", **kwargs
    ):
        super().__init__(
            teacher_layer, student_layer, weight=weight, name=name, **kwargs
        )

    def relation_loss(self, t, s):
        g_t = l2_normalize(ops.matmul(t, ops.transpose(t)))
        g_s = l2_normalize(ops.matmul(s, ops.transpose(s)))
        batch = ops.cast(ops.shape(t)[0], "float32")
        return ops.sum(ops.square(g_t - g_s), axis=-1) / batch
