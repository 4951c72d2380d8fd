"""CIFAR-style residual networks with basic blocks.

Reference: He, Zhang, Ren and Sun, "Deep Residual Learning for Image
Recognition", CVPR 2016, section 4.2 (https://arxiv.org/abs/1512.03385).

A 3x3 stem, then three stages of `n` basic blocks each (depth `6n + 2`),
widths `(16, 32, 64)`, the first block of stages 2 and 3 with stride 2,
global average pooling and a linear classifier that outputs logits.
Shortcuts are "option B": a 1x1 convolution + BatchNormalization when the
shape changes (stride or width), the identity otherwise.

The width-4 variants `resnet8x4` and `resnet32x4` follow the CRD benchmark
repository (Tian, Krishnan and Isola, "Contrastive Representation
Distillation", ICLR 2020, https://github.com/HobbitLong/RepDistiller):
stem width 32 and stage widths `(64, 128, 256)`; their first block therefore
has a projection shortcut (32 -> 64 channels).

Names: `resnet8, resnet14, resnet20, resnet32, resnet44, resnet56,
resnet110, resnet8x4, resnet32x4`.

Layer-name contract (stage `i` and block `j` are 1-based):

- `input`;
- stem: `stem_conv`, `stem_bn`, `stem_out` (the stem ReLU);
- block: `stage{i}_block{j}_conv1`, `_bn1`, `_relu1`, `_conv2`, `_bn2`,
  `_shortcut_conv` and `_shortcut_bn` (projection blocks only), `_add`, and
  the block output ReLU `stage{i}_block{j}_out`;
- `stage{i}_out`: an `Identity` on the last block output of stage `i`
  (both `stage2_out` and `stage2_block3_out` exist in `resnet20`);
- head: `pool` (`GlobalAveragePooling2D`), `logits` (`Dense`).

Every `stem_out`, `stage{i}_block{j}_out` and `stage{i}_out` is a cut of
the graph: the only tensor through which earlier layers reach later ones.
"""

import dataclasses

import keras

from kd_toolkit.models import builder_checks
from kd_toolkit.models import layer_factory as lf
from kd_toolkit.models import onednn_issue
from kd_toolkit.utils import validation as common_validation


@dataclasses.dataclass(frozen=True)
class _Spec:
    depth: int
    stem_width: int
    stage1_width: int


_SPECS = {
    **{f"resnet{d}": _Spec(d, 16, 16) for d in (8, 14, 20, 32, 44, 56, 110)},
    "resnet8x4": _Spec(8, 32, 64),
    "resnet32x4": _Spec(32, 32, 64),
}

RESNET_NAMES = tuple(sorted(_SPECS))

# Stage 1 keeps the resolution, stages 2 and 3 halve it.
_STAGE_STRIDES = (1, 2, 2)
_DOWNSAMPLING = 4


def _basic_block(x, filters, strides, prefix, weight_decay):
    """Post-activation basic block: conv-bn-relu-conv-bn + shortcut, relu."""
    in_channels = x.shape[-1]
    y = lf.conv(filters, 3, strides, f"{prefix}_conv1", weight_decay)(x)
    y = lf.batch_norm(f"{prefix}_bn1")(y)
    y = lf.relu(f"{prefix}_relu1")(y)
    y = lf.conv(filters, 3, 1, f"{prefix}_conv2", weight_decay)(y)
    y = lf.batch_norm(f"{prefix}_bn2")(y)
    shortcut = x
    if strides != 1 or in_channels != filters:
        shortcut = lf.conv(
            filters, 1, strides, f"{prefix}_shortcut_conv", weight_decay
        )(x)
        shortcut = lf.batch_norm(f"{prefix}_shortcut_bn")(shortcut)
    y = keras.layers.Add(name=f"{prefix}_add")([y, shortcut])
    return lf.relu(f"{prefix}_out")(y)


def resnet(
    name,
    input_shape=(32, 32, 3),
    num_classes=10,
    base_width=None,
    weight_decay=0.0,
):
    """Builds a CIFAR-style ResNet that outputs logits.

    He et al., "Deep Residual Learning for Image Recognition", CVPR 2016.
    Depth `6n + 2`: a stem conv, `3n` basic blocks of two 3x3 convs, and the
    classifier. Stage widths `(w, 2w, 4w)` with `w = 16` (`64` for the `x4`
    variants). See the module docstring for the layer names.

    Args:
        name: str. One of `resnet8, resnet14, resnet20, resnet32, resnet44,
            resnet56, resnet110, resnet8x4, resnet32x4`. Also the model's
            name.
        input_shape: tuple. `(height, width, channels)`; height and width
            may be `None`, known ones must be at least 4. Defaults to
            `(32, 32, 3)`.
        num_classes: int >= 2. Size of the logits. Defaults to `10`.
        base_width: int or `None`. Overrides the stage-1 width `w` (stages
            `(w, 2w, 4w)`); the stem keeps its ratio to it (equal for the
            plain names, half, at least 1, for the `x4` names). E.g.
            `resnet("resnet8", base_width=8)` has stages `(8, 16, 32)`.
            Defaults to `None` (the published widths).
        weight_decay: float >= 0. L2 coefficient on conv and dense kernels
            (`weight_decay * sum(w**2)`, in `model.losses`; SGD weight decay
            `wd` corresponds to `wd / 2`). Defaults to `0.0`.

    Returns:
        A functional `keras.Model` named `name`, mapping images to logits of
        shape `(batch, num_classes)`.

    Raises:
        ValueError: for an unknown `name` (listing the valid ones), a bad
            `input_shape`, `num_classes < 2` or a non-positive `base_width`.

    Example:

    ```python
    model = kd_toolkit.models.resnet("resnet20", input_shape=(28, 28, 1))
    features = model.get_layer("stage3_out").output  # (None, 7, 7, 64)
    ```
    """
    common_validation.check_choice(
        "name", name, RESNET_NAMES, what="model name"
    )
    spec = _SPECS[name]
    input_shape = builder_checks.check_input_shape(input_shape, _DOWNSAMPLING)
    num_classes = builder_checks.check_num_classes(num_classes)
    weight_decay = builder_checks.check_weight_decay(weight_decay)
    stem_width, width = spec.stem_width, spec.stage1_width
    if base_width is not None:
        width = common_validation.check_positive_int("base_width", base_width)
        ratio = spec.stage1_width // spec.stem_width
        stem_width = max(1, width // ratio)
    blocks_per_stage = (spec.depth - 2) // 6

    inputs = lf.image_input(input_shape)
    x = lf.conv(stem_width, 3, 1, "stem_conv", weight_decay)(inputs)
    x = lf.batch_norm("stem_bn")(x)
    x = lf.relu("stem_out")(x)
    for i, stride in enumerate(_STAGE_STRIDES, start=1):
        filters = width * 2 ** (i - 1)
        for j in range(1, blocks_per_stage + 1):
            x = _basic_block(
                x,
                filters,
                stride if j == 1 else 1,
                f"stage{i}_block{j}",
                weight_decay,
            )
        x = lf.identity(f"stage{i}_out")(x)
    outputs = lf.classifier_head(x, num_classes, weight_decay)
    model = keras.Model(inputs, outputs, name=name)
    onednn_issue.warn_if_training_would_crash(model)
    return model
