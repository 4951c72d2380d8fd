"""Wide residual networks WRN-d-k (pre-activation basic blocks).

Reference: Zagoruyko and Komodakis, "Wide Residual Networks", BMVC 2016
(https://arxiv.org/abs/1605.07146); layout as in the authors' code and the
CRD benchmark repository (https://github.com/HobbitLong/RepDistiller).

A 3x3 stem conv with 16 filters (no BN/ReLU: the blocks are pre-activation),
three stages of `n = (d - 4) / 6` blocks of widths `(16k, 32k, 64k)`, the
first block of stages 2 and 3 with stride 2, a final BN-ReLU, global
average pooling and a linear classifier that outputs logits. A block is
`BN-ReLU-conv3x3-BN-ReLU-(dropout)-conv3x3` plus a shortcut; when the shape
changes the shortcut is a 1x1 convolution (no BN) applied to the block's
first BN-ReLU output, as in the paper's code.

Names: `wrn_16_1, wrn_16_2, wrn_16_4, wrn_40_1, wrn_40_2`; any other valid
`(depth, width_factor)` through `wide_resnet()`.

Layer-name contract (stage `i` and block `j` are 1-based):

- `input`;
- stem: `stem_conv`, and `stem_out`, an `Identity` on the stem conv output.
  There is no `stem_bn` (pre-activation: each block normalises its input);
- block: `stage{i}_block{j}_bn1`, `_relu1`, `_conv1`, `_bn2`, `_relu2`,
  `_dropout` (only when `dropout > 0`), `_conv2`, `_shortcut_conv`
  (projection blocks only), `_add`, and `stage{i}_block{j}_out`, an
  `Identity` on the sum (a pre-activation block ends with its sum);
- `stage{i}_out`: an `Identity` on the last block output of stages 1 and 2.
  For stage 3 it comes after the final BN-ReLU (`final_bn`, `final_relu`),
  i.e. on the features that are pooled, matching the features the CRD code
  taps; `stage3_block{n}_out` still gives the raw sum;
- head: `pool` (`GlobalAveragePooling2D`), `logits` (`Dense`).

Every `stem_out`, `stage{i}_block{j}_out` and `stage{i}_out` is a cut of
the graph: the only tensor through which earlier layers reach later ones.
"""

import keras

from kd_toolkit.models import builder_checks
from kd_toolkit.models import layer_factory as lf
from kd_toolkit.utils import validation as common_validation

WRN_CONFIGS = {
    "wrn_16_1": (16, 1),
    "wrn_16_2": (16, 2),
    "wrn_16_4": (16, 4),
    "wrn_40_1": (40, 1),
    "wrn_40_2": (40, 2),
}

WRN_NAMES = tuple(sorted(WRN_CONFIGS))

_STAGE_STRIDES = (1, 2, 2)
_DOWNSAMPLING = 4
_STEM_WIDTH = 16


def _preact_block(x, filters, strides, dropout, prefix, weight_decay):
    """BN-ReLU-conv-BN-ReLU-(dropout)-conv plus shortcut, no final ReLU."""
    projection = strides != 1 or x.shape[-1] != filters
    pre = lf.batch_norm(f"{prefix}_bn1")(x)
    pre = lf.relu(f"{prefix}_relu1")(pre)
    y = lf.conv(filters, 3, strides, f"{prefix}_conv1", weight_decay)(pre)
    y = lf.batch_norm(f"{prefix}_bn2")(y)
    y = lf.relu(f"{prefix}_relu2")(y)
    if dropout > 0:
        y = keras.layers.Dropout(dropout, name=f"{prefix}_dropout")(y)
    y = lf.conv(filters, 3, 1, f"{prefix}_conv2", weight_decay)(y)
    shortcut = x
    if projection:
        shortcut = lf.conv(
            filters, 1, strides, f"{prefix}_shortcut_conv", weight_decay
        )(pre)
    y = keras.layers.Add(name=f"{prefix}_add")([y, shortcut])
    return lf.identity(f"{prefix}_out")(y)


def wide_resnet(
    depth,
    width_factor,
    input_shape=(32, 32, 3),
    num_classes=10,
    dropout=0.0,
    weight_decay=0.0,
):
    """Builds a wide residual network WRN-`depth`-`width_factor` (logits).

    Zagoruyko and Komodakis, "Wide Residual Networks", BMVC 2016.
    Depth `6n + 4` (the paper's convention) gives `n` blocks of two 3x3
    convs per stage. Stage widths `(16k, 32k, 64k)` with `k = width_factor`.
    See the module docstring for the layer names.

    Args:
        depth: int. `6n + 4` with `n >= 1` (10, 16, 22, 28, 40, ...).
        width_factor: int >= 1. The widening factor `k`.
        input_shape: tuple. `(height, width, channels)`; height and width
            may be `None`, known ones must be at least 4. Defaults to
            `(32, 32, 3)`.
        num_classes: int >= 2. Size of the logits. Defaults to `10`.
        dropout: float in [0, 1). Dropout between the two convs of each
            block (the paper uses 0.3 on CIFAR). Defaults to `0.0` (no
            dropout layer).
        weight_decay: float >= 0. L2 coefficient on conv and dense kernels
            (`weight_decay * sum(w**2)`, in `model.losses`; SGD weight decay
            `wd` corresponds to `wd / 2`). Defaults to `0.0`.

    Returns:
        A functional `keras.Model` named `wrn_{depth}_{width_factor}`,
        mapping images to logits of shape `(batch, num_classes)`.

    Raises:
        ValueError: if `depth` is not `6n + 4` with `n >= 1`, `width_factor`
            is not a positive int, `dropout` is outside [0, 1), or for a bad
            `input_shape` or `num_classes < 2`.

    Example:

    ```python
    model = kd_toolkit.models.wide_resnet(16, 2, input_shape=(28, 28, 1))
    features = model.get_layer("stage3_out").output  # (None, 7, 7, 128)
    ```
    """
    depth = common_validation.check_positive_int("depth", depth)
    if depth < 10 or (depth - 4) % 6:
        raise ValueError(
            "`depth` of a wide ResNet must be 6n + 4 with n >= 1 "
            f"(10, 16, 22, 28, 40, ...). Received: depth={depth}"
        )
    width_factor = common_validation.check_positive_int(
        "width_factor", width_factor
    )
    input_shape = builder_checks.check_input_shape(input_shape, _DOWNSAMPLING)
    num_classes = builder_checks.check_num_classes(num_classes)
    dropout = builder_checks.check_rate(dropout, "dropout")
    weight_decay = builder_checks.check_weight_decay(weight_decay)
    blocks_per_stage = (depth - 4) // 6

    inputs = lf.image_input(input_shape)
    x = lf.conv(_STEM_WIDTH, 3, 1, "stem_conv", weight_decay)(inputs)
    x = lf.identity("stem_out")(x)
    for i, stride in enumerate(_STAGE_STRIDES, start=1):
        filters = _STEM_WIDTH * width_factor * 2 ** (i - 1)
        for j in range(1, blocks_per_stage + 1):
            x = _preact_block(
                x,
                filters,
                stride if j == 1 else 1,
                dropout,
                f"stage{i}_block{j}",
                weight_decay,
            )
        if i == len(_STAGE_STRIDES):
            x = lf.batch_norm("final_bn")(x)
            x = lf.relu("final_relu")(x)
        x = lf.identity(f"stage{i}_out")(x)
    outputs = lf.classifier_head(x, num_classes, weight_decay)
    return keras.Model(inputs, outputs, name=f"wrn_{depth}_{width_factor}")
