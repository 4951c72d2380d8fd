"""Knowledge review: fused student features against several teacher
levels, with the hierarchical context loss."""

import keras
from keras import layers
from keras import ops

from kd_toolkit.losses.base import DistillationLoss
from kd_toolkit.losses.feature_ops import adaptive_average_pool
from kd_toolkit.losses.feature_ops import match_spatial
from kd_toolkit.losses.feature_ops import resize_nearest
from kd_toolkit.losses.feature_ops import spatial_size
from kd_toolkit.losses.loss_registry import register
from kd_toolkit.utils.validation import check_name
from kd_toolkit.utils.validation import check_positive_int

# Pyramid sizes of the hierarchical context loss, coarsest last.
PYRAMID = (4, 2, 1)
# The reference ABF's nn.BatchNorm2d epsilon (Keras defaults to 1e-3).
_BN_EPSILON = 1e-5


@register("review_kd")
class ReviewKD(DistillationLoss):
    """Knowledge review: each teacher level is matched by a fusion of the
    student's features at that level and every deeper one.

    Chen, Liu, Zhao, Jia, "Distilling Knowledge via Knowledge Review",
    CVPR 2021, https://arxiv.org/abs/2104.09044.

    With student maps `s_1 … s_n` and teacher maps `t_1 … t_n` (shallow to
    deep, one per layer pair), attention-based fusion (ABF) runs from the
    deepest level up:

    ```
    x_i = BN(conv1x1(s_i))                      (mid_channels)
    if i < n:  r = upsample(x_{i+1}, size of x_i)
               a = sigmoid(conv1x1([x_i, r]))   (two maps)
               x_i = a_0 · x_i + a_1 · r
    o_i = BN(conv3x3(x_i))                      (the channels of t_i)
    ```

    and the hierarchical context loss compares each `o_i` with `t_i` at
    full size (weight 1) and average-pooled to 4×4, 2×2 and 1×1, keeping
    the sizes below the map's height (the reference code's rule: an 8×4
    map keeps its 4×4 level), each kept level weighing half the one
    before (½, ¼, ⅛ on an 8×8 map), normalised by the sum of the weights:

    ```
    HCL(o, t) = Σ_k w_k · mean((pool_k(o) − pool_k(t))²) / Σ_k w_k
    loss = weight · warm · Σ_i HCL(o_i, t_i),  warm = min(step / W, 1)
    ```

    per example (the batch mean is the reference code's `hcl_loss`, which
    this equals at `weight` 1). Pooling is adaptive average pooling
    (overlapping bins where the size does not divide the map). An `o_i`
    whose size differs from `t_i`'s is average-pooled to it (the reference
    code instead resizes `x_i` before the 3×3 convolution; pairs of one
    size, the reference's setting, agree). The batch normalizations use
    the reference's epsilon, 1e-5. The fusion layers are the
    loss's own trainable parts, trained with the student. Defaults follow
    the paper's CIFAR-100 settings: weight 1, `mid_channels` = the
    deepest student map's channels capped at 512; the paper ramps the
    weight over its first 20 of 240 epochs: pass `warmup_steps` for that
    (0, our default, turns the ramp off).

    Args:
        layer_pairs: list of `(teacher_layer, student_layer)` names, shallow
            to deep, each naming a 4-D activation `(batch, h, w, c)`.
        mid_channels: int > 0 or `None`. Channels of the fused maps.
            Defaults to `None` (the rule above).
        warmup_steps: int >= 0. Training steps of the linear ramp `W`.
            Defaults to `0`.
        weight: float >= 0. Defaults to `1.0`.
        name: str. Layer name; the metric is reported as `review_kd_loss`.

    Returns:
        From `compute`: `{"review_kd_loss": per-sample loss (batch,)}`.

    Raises:
        TypeError: if a layer name is not a non-empty string.
        ValueError: if `layer_pairs` is empty, `mid_channels` is not
            positive, `warmup_steps < 0` or `weight < 0`; at build, if an
            activation is not 4-D.

    Example:

    ```python
    review = kd_toolkit.losses.ReviewKD(
        [("stage1_out", "stage1_out"), ("stage2_out", "stage2_out"),
         ("stage3_out", "stage3_out")])
    ```
    """

    def __init__(
        self,
        layer_pairs,
        mid_channels=None,
        warmup_steps=0,
        weight=1.0,
        name="review_kd",
        **kwargs,
    ):
        super().__init__(weight=weight, name=name, **kwargs)
        pairs = [tuple(pair) for pair in layer_pairs or ()]
        if not pairs or any(len(pair) != 2 for pair in pairs):
            raise ValueError(
                "`layer_pairs` must be a non-empty list of (teacher layer, "
                f"student layer) names. Received: layer_pairs={layer_pairs!r}"
            )
        self.layer_pairs = [
            (check_name("teacher_layer", t), check_name("student_layer", s))
            for t, s in pairs
        ]
        self.mid_channels = check_positive_int(
            "mid_channels", mid_channels, allow_none=True
        )
        self.add_warm_up(warmup_steps)
        self.fusions = []

    def teacher_feature_names(self):
        return tuple(t for t, _ in self.layer_pairs)

    def student_feature_names(self):
        return tuple(s for _, s in self.layer_pairs)

    def metric_names(self):
        return (f"{self.name}_loss",)

    def build_from_features(self, teacher_shapes, student_shapes):
        for t, s in self.layer_pairs:
            for which, layer, shape in (
                ("teacher", t, teacher_shapes[t]),
                ("student", s, student_shapes[s]),
            ):
                if len(shape) != 4:
                    raise ValueError(
                        "ReviewKD compares 4-D activation maps. Received: "
                        f"{which} layer '{layer}' with shape {tuple(shape)}"
                    )
        deepest = int(student_shapes[self.layer_pairs[-1][1]][-1])
        mid = self.mid_channels or min(512, deepest)
        self.fusions = []
        for i, (t, s) in enumerate(self.layer_pairs):
            fusion = _AttentionFusion(
                mid,
                int(teacher_shapes[t][-1]),
                fuse=i < len(self.layer_pairs) - 1,
                name=f"fusion_{i}",
            )
            fusion.build(tuple(student_shapes[s]))
            self.fusions.append(fusion)
        self.built = True

    def compute(self, inputs):
        residual, total = None, 0.0
        for i in reversed(range(len(self.layer_pairs))):
            t_name, s_name = self.layer_pairs[i]
            output, residual = self.fusions[i](
                inputs.student_features[s_name],
                residual,
                training=inputs.training,
            )
            # Float32 math under a mixed policy (the fusion runs in its
            # compute dtype).
            teacher = ops.cast(inputs.teacher_features[t_name], "float32")
            output = ops.cast(output, "float32")
            output = match_spatial(output, spatial_size(teacher.shape))
            total = total + hierarchical_context_loss(output, teacher)
        scale = self.weight * self.warm_up_scale(inputs.training)
        return {f"{self.name}_loss": scale * total}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "layer_pairs": [list(pair) for pair in self.layer_pairs],
                "mid_channels": self.mid_channels,
                "warmup_steps": self.warmup_steps,
            }
        )
        return config


def hierarchical_context_loss(student_map, teacher_map):
    """Per-sample HCL of two float32 maps `(batch, h, w, c)` of one size."""
    h = spatial_size(teacher_map.shape)[0]
    diff = ops.square(student_map - teacher_map)
    total, weights, level_weight = ops.mean(diff, axis=(1, 2, 3)), 1.0, 1.0
    for size in PYRAMID:
        if size >= h:  # the reference's rule: a 8x4 map keeps its 4x4 level
            continue
        level_weight /= 2.0
        pooled = [
            adaptive_average_pool(m, (size, size))
            for m in (student_map, teacher_map)
        ]
        total += level_weight * ops.mean(
            ops.square(pooled[0] - pooled[1]), axis=(1, 2, 3)
        )
        weights += level_weight
    return total / weights


class _AttentionFusion(layers.Layer):
    """ABF block of ReviewKD: returns `(output for the teacher's level,
    fused map handed to the next shallower level)`."""

    def __init__(self, mid_channels, out_channels, fuse, **kwargs):
        super().__init__(**kwargs)
        self.mid_channels, self.out_channels = mid_channels, out_channels
        self.fuse = fuse
        self.reduce = keras.Sequential(
            [
                layers.Conv2D(mid_channels, 1, use_bias=False),
                layers.BatchNormalization(epsilon=_BN_EPSILON),
            ],
            name="reduce",
        )
        self.attention = (
            layers.Conv2D(2, 1, activation="sigmoid", name="attention")
            if fuse
            else None
        )
        self.expand = keras.Sequential(
            [
                layers.Conv2D(out_channels, 3, padding="same", use_bias=False),
                layers.BatchNormalization(epsilon=_BN_EPSILON),
            ],
            name="expand",
        )

    def build(self, student_shape):
        self.reduce.build(student_shape)
        mid_shape = tuple(student_shape[:-1]) + (self.mid_channels,)
        if self.attention is not None:
            self.attention.build(mid_shape[:-1] + (2 * self.mid_channels,))
        self.expand.build(mid_shape)
        self.built = True

    def call(self, student_map, deeper=None, training=False):
        x = self.reduce(ops.cast(student_map, "float32"), training=training)
        if self.attention is not None and deeper is not None:
            deeper = resize_nearest(deeper, spatial_size(x.shape))
            a = self.attention(ops.concatenate([x, deeper], axis=-1))
            x = a[..., 0:1] * x + a[..., 1:2] * deeper
        return self.expand(x, training=training), x

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "mid_channels": self.mid_channels,
                "out_channels": self.out_channels,
                "fuse": self.fuse,
            }
        )
        return config
