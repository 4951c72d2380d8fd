"""Contrastive representation distillation, with in-batch negatives."""

import keras
from keras import ops

from kd_toolkit.losses.loss_registry import register
from kd_toolkit.losses.relational import RelationalLoss
from kd_toolkit.losses.relational import l2_normalize
from kd_toolkit.utils.validation import check_positive
from kd_toolkit.utils.validation import check_positive_int


@register("crd")
class CRD(RelationalLoss):
    """Contrastive representation distillation: the student's embedding of
    an image must pick out the teacher's embedding of the same image among
    those of other images.

    Tian, Krishnan, Isola, "Contrastive Representation Distillation",
    ICLR 2020, https://arxiv.org/abs/1910.10699.

    **In-batch negatives.** The paper draws 16,384 negatives per example
    from a memory bank of every training image's embedding, indexed by
    the example's position in the dataset. This loss uses the other
    `b − 1` images of the batch as the negatives instead (an InfoNCE form
    of the same objective), so it needs no example index, no bank and no
    change to the data: it fits the Keras step as it is, under
    `tf.distribute` too (negatives come from each replica's batch). With
    few negatives the bound on the mutual information it maximises is
    looser than the paper's: expect less from small batches.

    With `t_i`, `s_i` the flattened activations of example `i`, trainable
    linear heads `W_T`, `W_S` to `feat_dim` dimensions (the loss's own
    parts, trained with the student) and `τ` the temperature:

    ```
    z^T_i = W_T t_i / ‖W_T t_i‖,   z^S_i = W_S s_i / ‖W_S s_i‖
    loss_i = weight · ½ (− log softmax_j(z^S_i · z^T_j / τ)_i
                         − log softmax_j(z^T_i · z^S_j / τ)_i)
    ```

    Both directions, as the paper contrasts the student against teacher
    embeddings and the teacher against student ones. Defaults are the
    paper's CIFAR-100 settings (`feat_dim = 128`, `τ = 0.07`, weight `0.8`
    beside the cross-entropy). **Scale**: the references add the two
    directions (`s + t`), we average them (`½(s + t)`), so our weight 0.8
    is half the paper's per direction: `weight = 1.6` gives the
    references' scale. No fixture checks the value: the references'
    memory-bank NCE estimator is another objective than this in-batch one.
    The two layers may have any sizes.

    Args:
        teacher_layer: str. Teacher layer name (penultimate embedding).
        student_layer: str. Student layer name.
        feat_dim: int > 0. Size of the shared embedding. Defaults to `128`.
        temperature: float > 0. `τ`. Defaults to `0.07`.
        weight: float >= 0. Multiplier of the loss. Defaults to `0.8`.
        name: str. Layer name; the metric is reported as `crd_loss`.

    Returns:
        From `compute`: `{"crd_loss": per-sample loss of shape (batch,)}`.

    Raises:
        TypeError: if a layer name is not a non-empty string.
        ValueError: if `feat_dim` or `temperature` is not positive, or
            `weight < 0`.

    Example:

    ```python
    crd = kd_toolkit.losses.CRD("pool", "pool")
    ```
    """

    def __init__(
        self,
        teacher_layer,
        student_layer,
        feat_dim=128,
        temperature=0.07,
        weight=0.8,
        name="crd",
        **kwargs,
    ):
        super().__init__(
            teacher_layer, student_layer, weight=weight, name=name, **kwargs
        )
        self.feat_dim = check_positive_int("feat_dim", feat_dim)
        self.temperature = check_positive("temperature", temperature)
        self.teacher_head = keras.layers.Dense(
            self.feat_dim, dtype="float32", name="teacher_head"
        )
        self.student_head = keras.layers.Dense(
            self.feat_dim, dtype="float32", name="student_head"
        )

    def build_from_features(self, teacher_shapes, student_shapes):
        for head, shape in (
            (self.teacher_head, teacher_shapes[self.teacher_layer]),
            (self.student_head, student_shapes[self.student_layer]),
        ):
            flat = 1
            for size in shape[1:]:
                flat *= int(size)
            head.build((None, flat))
        self.built = True

    def relation_loss(self, t, s):
        z_t = l2_normalize(self.teacher_head(t))
        z_s = l2_normalize(self.student_head(s))
        logits = ops.matmul(z_s, ops.transpose(z_t)) / self.temperature
        # Row i of `logits` contrasts student i against every teacher
        # embedding; column i contrasts teacher i against every student one.
        positives = ops.diagonal(logits)
        student_anchor = ops.logsumexp(logits, axis=1) - positives
        teacher_anchor = ops.logsumexp(logits, axis=0) - positives
        return 0.5 * (student_anchor + teacher_anchor)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"feat_dim": self.feat_dim, "temperature": self.temperature}
        )
        return config
