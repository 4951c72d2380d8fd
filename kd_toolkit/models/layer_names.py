"""Look-ups over the layer-name contract of `kd_toolkit.models`.

Every zoo model names its block outputs `stage{i}_block{j}_out` and its
stage outputs `stage{i}_out` (1-based); each one is a cut of the graph,
so graph surgery can replace the blocks between two of them.
"""

import re

import keras

BLOCK_OUTPUT_PATTERN = re.compile(r"stage(\d+)_block(\d+)_out")
STAGE_OUTPUT_PATTERN = re.compile(r"stage(\d+)_out")


def _matching(model, pattern, what):
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"`model` must be a keras.Model to list its {what}. "
            f"Received: model={model!r}"
        )
    return [
        layer.name for layer in model.layers if pattern.fullmatch(layer.name)
    ]


def block_output_names(model):
    """The `stage{i}_block{j}_out` layer names of a model, in graph order.

    Args:
        model: a `keras.Model` (a zoo model or any model that follows the
            naming contract).

    Returns:
        A list of layer names, e.g. for `resnet8`
        `["stage1_block1_out", "stage2_block1_out", "stage3_block1_out"]`;
        empty for a model without blocks (such as `simple_cnn`).

    Raises:
        TypeError: if `model` is not a `keras.Model`.

    Example:

    ```python
    model = kd_toolkit.models.get("resnet20")
    kd_toolkit.models.block_output_names(model)[-3:]
    # ['stage3_block1_out', 'stage3_block2_out', 'stage3_block3_out']
    ```
    """
    return _matching(model, BLOCK_OUTPUT_PATTERN, "block outputs")


def stage_output_names(model):
    """The `stage{i}_out` layer names of a model, in graph order.

    Args:
        model: a `keras.Model` that follows the naming contract.

    Returns:
        A list such as `["stage1_out", "stage2_out", "stage3_out"]`.

    Raises:
        TypeError: if `model` is not a `keras.Model`.
    """
    return _matching(model, STAGE_OUTPUT_PATTERN, "stage outputs")
