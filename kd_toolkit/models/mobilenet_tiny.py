"""A small MobileNet-like CNN of depthwise-separable blocks.

Reference for the block: Howard et al., "MobileNets: Efficient
Convolutional Neural Networks for Mobile Vision Applications", 2017
(https://arxiv.org/abs/1704.04861). The layout is ours, scaled for
28x28-32x32 inputs: a 3x3 stem conv (stride 1), then one stage per entry of
`filters`, each of `blocks_per_stage` blocks `depthwise 3x3-BN-ReLU-
pointwise 1x1-BN-ReLU`; the first block of every stage but the first has
stride 2. Global average pooling and a linear classifier output logits.

Name: `mobilenet_tiny`.

Layer-name contract (stage `i` and block `j` are 1-based), the ResNet
scheme:

- `input`;
- stem: `stem_conv`, `stem_bn`, `stem_out` (the stem ReLU);
- block: `stage{i}_block{j}_dwconv`, `_bn1`, `_relu1`, `_pwconv`, `_bn2`,
  and the block output ReLU `stage{i}_block{j}_out`;
- `stage{i}_out`: an `Identity` on the last block output of stage `i`;
- head: `pool` (`GlobalAveragePooling2D`), `logits` (`Dense`).

Every `stem_out`, `stage{i}_block{j}_out` and `stage{i}_out` is a cut of
the graph (the network is a plain stack).
"""

import keras

from kd_toolkit.models import builder_checks
from kd_toolkit.models import layer_factory as lf
from kd_toolkit.utils import validation as common_validation


def _separable_block(x, filters, strides, prefix, weight_decay):
    """Depthwise 3x3-BN-ReLU then pointwise 1x1-BN-ReLU."""
    x = lf.depthwise_conv(strides, f"{prefix}_dwconv", weight_decay)(x)
    x = lf.batch_norm(f"{prefix}_bn1")(x)
    x = lf.relu(f"{prefix}_relu1")(x)
    x = lf.conv(filters, 1, 1, f"{prefix}_pwconv", weight_decay)(x)
    x = lf.batch_norm(f"{prefix}_bn2")(x)
    return lf.relu(f"{prefix}_out")(x)


def mobilenet_tiny(
    input_shape=(32, 32, 3),
    num_classes=10,
    filters=(32, 64, 128),
    blocks_per_stage=2,
    stem_filters=16,
    weight_decay=0.0,
):
    """Builds a small MobileNet-like network (logits).

    Howard et al., "MobileNets", 2017: depthwise-separable convolutions.
    Known height and width must be at least `2 ** (len(filters) - 1)`.
    See the module docstring for the layer names.

    Args:
        input_shape: tuple. `(height, width, channels)`; height and width
            may be `None`. Defaults to `(32, 32, 3)`.
        num_classes: int >= 2. Size of the logits. Defaults to `10`.
        filters: tuple of positive ints. Pointwise filters of each stage,
            one stage per entry. Defaults to `(32, 64, 128)`.
        blocks_per_stage: int >= 1. Separable blocks per stage. Defaults to
            `2`.
        stem_filters: int >= 1. Filters of the stem conv. Defaults to `16`.
        weight_decay: float >= 0. L2 coefficient on conv and dense kernels
            (`weight_decay * sum(w**2)`, in `model.losses`). Defaults to
            `0.0`.

    Returns:
        A functional `keras.Model` named `mobilenet_tiny`, mapping images to
        logits of shape `(batch, num_classes)`.

    Raises:
        ValueError: for non-positive `filters`, `blocks_per_stage` or
            `stem_filters`, a bad `input_shape` or `num_classes < 2`.

    Example:

    ```python
    student = kd_toolkit.models.mobilenet_tiny(input_shape=(28, 28, 1))
    student.get_layer("stage3_out").output  # (None, 7, 7, 128)
    ```
    """
    filters = common_validation.check_ints("filters", filters)
    blocks_per_stage = common_validation.check_positive_int(
        "blocks_per_stage", blocks_per_stage
    )
    stem_filters = common_validation.check_positive_int(
        "stem_filters", stem_filters
    )
    input_shape = builder_checks.check_input_shape(
        input_shape, 2 ** (len(filters) - 1)
    )
    num_classes = builder_checks.check_num_classes(num_classes)
    weight_decay = builder_checks.check_weight_decay(weight_decay)

    inputs = lf.image_input(input_shape)
    x = lf.conv(stem_filters, 3, 1, "stem_conv", weight_decay)(inputs)
    x = lf.batch_norm("stem_bn")(x)
    x = lf.relu("stem_out")(x)
    for i, width in enumerate(filters, start=1):
        for j in range(1, blocks_per_stage + 1):
            strides = 2 if i > 1 and j == 1 else 1
            x = _separable_block(
                x, width, strides, f"stage{i}_block{j}", weight_decay
            )
        x = lf.identity(f"stage{i}_out")(x)
    outputs = lf.classifier_head(x, num_classes, weight_decay)
    return keras.Model(inputs, outputs, name="mobilenet_tiny")
