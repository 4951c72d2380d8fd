"""Activation map adaptation: adapters and student learn toward each other."""

import keras
from keras import ops

from kd_toolkit.adaptation.replacement import as_replacement
from kd_toolkit.losses.attention_transfer import check_rank4
from kd_toolkit.losses.base import DistillationLoss
from kd_toolkit.losses.feature_ops import conv_connector
from kd_toolkit.losses.feature_ops import match_spatial
from kd_toolkit.losses.feature_ops import matched_attention_maps
from kd_toolkit.losses.loss_registry import register
from kd_toolkit.utils.validation import check_non_negative
from kd_toolkit.utils.validation import check_positive

MAP_LOSSES = ("attention", "feature")
REDUCTIONS = ("sum", "mean")


@register("ama")
class ActivationMapAdaptation(DistillationLoss):
    """Activation map adaptation (AMA): the adapted teacher's maps teach.

    Wu et al., "Activation Map Adaptation for Effective Knowledge
    Distillation", arXiv 2010.13500, https://arxiv.org/abs/2010.13500.
    The full text was not available to us; this loss is our formalization
    of the abstract (`docs/adaptation.md`): the teacher's replaced blocks
    become trainable adapters (`kd_toolkit.adaptation.adapt_teacher`), the
    adapter outputs `a_j` supervise student maps `s_j`, and the adapters
    also learn, toward what the student can match, while keeping the
    adapted teacher `t̃` accurate. With labels `y` and `sg` the
    stop-gradient:

    ```
    student terms:  ama_map_loss     = w_map · Σ_j d(sg(a_j), s_j)
    adapter terms:  adapter_ce_loss  = w_ce · CE(y, t̃)
                    adapter_map_loss = γ · Σ_j d(a_j, sg(s_j))
    d = attention:  Σ_k (Q(s)_k − Q(a)_k)²,  Q(x) = vec(mean_c |x|^p)/‖·‖₂
                    (spatial sizes matched by average pooling)
    d = feature:    mean_k (r(s)_k − a_k)²,  r a 1×1 conv + BN connector
    ```

    The student's hard-label CE and the KD term come from the `Distiller`
    and a `KD` loss listed alongside, which sees the adapted teacher's
    logits under stop-gradient, or, when the batches carry cached logits
    of the original teacher (`kd_toolkit.TeacherLogitsCache`), those: the
    adapted teacher then runs for its maps and its own `CE(y, t̃)` only
    (the "ama_cached" method). Our choices, all arguments: attention
    distance summed over positions (`reduction="sum"`), `w_map = 5`, `γ = 1`,
    `w_ce = 1` (from a small probe on Fashion-MNIST, resnet20 -> resnet8).
    In `feature` mode the connector trains with the student side only.

    The loss declares `trains_teacher = True`: the Distiller runs the
    adapted teacher inside the gradient tape; only the adapters are
    trainable there (`FrozenLayer` keeps the original layers frozen).
    Besides its loss terms, the loss owns an `adapted_teacher_acc` metric
    (top-1 of `t̃` on each batch), reported with the Distiller's metrics.

    Args:
        replacements: list of `kd_toolkit.adaptation.Replacement` (e.g.
            `adapted.replacements`); those with a `student_layer` give the
            pairs `(adapter_name, student_layer)`.
        map_loss: `"attention"` or `"feature"`. Defaults to `"attention"`.
        map_weight: float >= 0. `w_map`. Defaults to `5.0`.
        gamma: float >= 0. `γ`. Defaults to `1.0`.
        adapter_ce_weight: float >= 0. `w_ce`. Defaults to `1.0`.
        p: float > 0. Attention exponent. Defaults to `2.0`.
        reduction: `"sum"` or `"mean"` over attention positions. Defaults
            to `"sum"`.
        name: str. Layer name. Defaults to `"ama"`.

    Returns:
        From `compute`: `{"ama_map_loss", "adapter_ce_loss",
        "adapter_map_loss"}`, each a per-sample loss of shape `(batch,)`.

    Raises:
        ValueError: if no replacement has a `student_layer`, on an unknown
            `map_loss` or `reduction`, negative weights, or non-4-D maps.
        TypeError: if a replacement is not a `Replacement`.

    Example:

    ```python
    adapted = kd_toolkit.adaptation.adapt_teacher(teacher, replacements)
    distiller = kd_toolkit.Distiller(adapted.model, student, losses=[
        kd_toolkit.losses.KD(4.0),
        kd_toolkit.losses.ActivationMapAdaptation(adapted.replacements)])
    ```
    """

    trains_teacher = True

    def __init__(
        self,
        replacements,
        map_loss="attention",
        map_weight=5.0,
        gamma=1.0,
        adapter_ce_weight=1.0,
        p=2.0,
        reduction="sum",
        name="ama",
        **kwargs,
    ):
        if "weight" in kwargs:
            raise TypeError(
                "ActivationMapAdaptation has no `weight`; set `map_weight`, "
                "`gamma` and `adapter_ce_weight`. "
                f"Received: weight={kwargs['weight']!r}"
            )
        map_weight = check_non_negative("map_weight", map_weight)
        super().__init__(weight=map_weight, name=name, **kwargs)
        if isinstance(replacements, (str, bytes, dict)) or not isinstance(
            replacements, (list, tuple)
        ):
            raise ValueError(
                "`replacements` must be a list of Replacement. "
                f"Received: replacements={replacements!r}"
            )
        self.replacements = tuple(as_replacement(r) for r in replacements)
        self.pairs = tuple(
            (r.adapter_name, r.student_layer)
            for r in self.replacements
            if r.student_layer
        )
        if not self.pairs:
            raise ValueError(
                "`replacements` must include at least one Replacement with a "
                "`student_layer` to supervise. Received: replacements="
                f"{[r.get_config() for r in self.replacements]}"
            )
        for arg, value, choices in (
            ("map_loss", map_loss, MAP_LOSSES),
            ("reduction", reduction, REDUCTIONS),
        ):
            if value not in choices:
                raise ValueError(
                    f"`{arg}` must be one of {list(choices)}. "
                    f"Received: {arg}={value!r}"
                )
        self.map_loss = map_loss
        self.reduction = reduction
        self.map_weight = self.weight
        self.gamma = check_non_negative("gamma", gamma)
        self.adapter_ce_weight = check_non_negative(
            "adapter_ce_weight", adapter_ce_weight
        )
        self.p = check_positive("p", p)
        self.connectors = []
        self.accuracy = keras.metrics.Mean(name="adapted_teacher_acc")

    def teacher_feature_names(self):
        return tuple(t for t, _ in self.pairs)

    def student_feature_names(self):
        return tuple(s for _, s in self.pairs)

    def metric_names(self):
        return ("ama_map_loss", "adapter_ce_loss", "adapter_map_loss")

    def label_term_names(self):
        # The adapted teacher stays accurate on the labeled examples; on
        # unlabeled ones only the map terms train the adapters.
        return ("adapter_ce_loss",)

    def build_from_features(self, teacher_shapes, student_shapes):
        self.connectors = []
        for t, s in self.pairs:
            t_shape, s_shape = teacher_shapes[t], student_shapes[s]
            check_rank4("ActivationMapAdaptation", t, t_shape, s, s_shape)
            if self.map_loss == "feature":
                self.connectors.append(
                    conv_connector(t_shape, s_shape, name=f"{t}_connector")[0]
                )
        self.built = True

    def compute(self, inputs):
        # The adapted teacher's own logits: with a teacher-output cache,
        # `teacher_logits` are the original teacher's, which the KD term
        # reads and which carry no gradient to the adapters.
        t_logits = ops.cast(
            inputs.teacher_logits
            if inputs.live_teacher_logits is None
            else inputs.live_teacher_logits,
            "float32",
        )
        ce = keras.losses.categorical_crossentropy(
            inputs.labels, t_logits, from_logits=True
        )
        hit = ops.equal(
            ops.argmax(t_logits, axis=-1), ops.argmax(inputs.labels, axis=-1)
        )
        self.accuracy.update_state(
            ops.cast(hit, "float32"), sample_weight=inputs.labeled
        )
        student_side, adapter_side = 0.0, 0.0
        for i, (t, s) in enumerate(self.pairs):
            a = inputs.teacher_features[t]
            x = inputs.student_features[s]
            if self.map_loss == "attention":
                d_student, d_adapter = self._attention(a, x)
            else:
                d_student, d_adapter = self._feature(
                    self.connectors[i], a, x, inputs.training
                )
            student_side = student_side + d_student
            adapter_side = adapter_side + d_adapter
        return {
            "ama_map_loss": self.map_weight * student_side,
            "adapter_ce_loss": self.adapter_ce_weight * ce,
            "adapter_map_loss": self.gamma * adapter_side,
        }

    def _attention(self, a, x):
        qa, qs = matched_attention_maps(a, x, self.p)
        reduce = ops.sum if self.reduction == "sum" else ops.mean
        return (
            reduce(ops.square(qs - ops.stop_gradient(qa)), axis=-1),
            reduce(ops.square(qa - ops.stop_gradient(qs)), axis=-1),
        )

    def _feature(self, connector, a, x, training):
        r = ops.cast(connector(x, training=training), "float32")
        a = ops.cast(a, "float32")
        target = (
            min(int(a.shape[1]), int(r.shape[1])),
            min(int(a.shape[2]), int(r.shape[2])),
        )
        a, r = match_spatial(a, target), match_spatial(r, target)

        def mse(u, v):
            sq = ops.square(u - v)
            return ops.mean(ops.reshape(sq, (ops.shape(sq)[0], -1)), axis=-1)

        return mse(r, ops.stop_gradient(a)), mse(a, ops.stop_gradient(r))

    def get_config(self):
        config = super().get_config()
        config.pop("weight", None)
        config.update(
            {
                "replacements": [r.get_config() for r in self.replacements],
                "map_loss": self.map_loss,
                "map_weight": self.map_weight,
                "gamma": self.gamma,
                "adapter_ce_weight": self.adapter_ce_weight,
                "p": self.p,
                "reduction": self.reduction,
            }
        )
        return config
