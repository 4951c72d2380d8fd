"""A small plain CNN: conv-BN-ReLU-max-pool stages, a tiny student.

One stage per entry of `filters`: a 3x3 convolution, BatchNormalization,
ReLU and a 2x2 max pooling (stride 2, "same" padding so odd sizes work).
Then global average pooling and a linear classifier that outputs logits.

Name: `simple_cnn`.

Layer-name contract (stage `i` is 1-based):

- `input`;
- stage: `stage{i}_conv`, `stage{i}_bn`, `stage{i}_relu`, `stage{i}_pool`,
  and `stage{i}_out`, an `Identity` on the pooled output of stage `i`;
- head: `pool` (`GlobalAveragePooling2D`), `logits` (`Dense`).

There is no stem and there are no blocks. Every layer output of this
sequential stack is a cut; `stage{i}_out` are the documented ones.
"""

import keras

from kd_toolkit.models import builder_checks
from kd_toolkit.models import layer_factory as lf
from kd_toolkit.utils import validation as common_validation


def simple_cnn(
    input_shape=(28, 28, 1), num_classes=10, filters=(32, 64), weight_decay=0.0
):
    """Builds a plain CNN of conv-BN-ReLU-max-pool stages (logits).

    Each stage halves the resolution, so known height and width must be at
    least `2 ** len(filters)`. See the module docstring for the layer
    names.

    Args:
        input_shape: tuple. `(height, width, channels)`; height and width
            may be `None`. Defaults to `(28, 28, 1)`.
        num_classes: int >= 2. Size of the logits. Defaults to `10`.
        filters: tuple of positive ints. Conv filters of each stage, one
            stage per entry. Defaults to `(32, 64)`.
        weight_decay: float >= 0. L2 coefficient on conv and dense kernels
            (`weight_decay * sum(w**2)`, in `model.losses`). Defaults to
            `0.0`.

    Returns:
        A functional `keras.Model` named `simple_cnn`, mapping images to
        logits of shape `(batch, num_classes)`.

    Raises:
        ValueError: if `filters` is not a non-empty tuple of positive ints,
            for a bad `input_shape` or `num_classes < 2`.

    Example:

    ```python
    student = kd_toolkit.models.simple_cnn(filters=(16, 32))
    student.get_layer("stage2_out").output  # (None, 7, 7, 32)
    ```
    """
    filters = common_validation.check_ints("filters", filters)
    input_shape = builder_checks.check_input_shape(
        input_shape, 2 ** len(filters)
    )
    num_classes = builder_checks.check_num_classes(num_classes)
    weight_decay = builder_checks.check_weight_decay(weight_decay)

    inputs = lf.image_input(input_shape)
    x = inputs
    for i, width in enumerate(filters, start=1):
        x = lf.conv(width, 3, 1, f"stage{i}_conv", weight_decay)(x)
        x = lf.batch_norm(f"stage{i}_bn")(x)
        x = lf.relu(f"stage{i}_relu")(x)
        x = keras.layers.MaxPooling2D(2, padding="same", name=f"stage{i}_pool")(
            x
        )
        x = lf.identity(f"stage{i}_out")(x)
    outputs = lf.classifier_head(x, num_classes, weight_decay)
    return keras.Model(inputs, outputs, name="simple_cnn")
