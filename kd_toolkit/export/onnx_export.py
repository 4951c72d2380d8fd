"""Keras 3 model to ONNX through tf2onnx.

`tf2onnx.convert.from_keras` targets Keras 2 (`tf.keras`) models and fails
on Keras 3 ones. This module traces `model(x, training=False)` in a
`tf.function` with a batch-polymorphic input signature and converts it with
`tf2onnx.convert.from_function`, which freezes the Keras 3 variables
correctly (the same route Keras's own `model.export(format="onnx")` takes on
the TensorFlow backend). The ONNX model stays in memory until it is written
atomically.
"""

import pathlib

import tensorflow as tf

from kd_toolkit.export.representative import model_input_shape
from kd_toolkit.utils.atomic_io import atomic_write_bytes
from kd_toolkit.utils.atomic_io import check_output_path
from kd_toolkit.utils.optional_imports import require

DEFAULT_OPSET = 17
# Oldest opset whose Conv/BatchNorm/Gemm semantics tf2onnx 1.17 handles for
# our layers; the newest that onnxruntime 1.18+ runs.
MIN_OPSET = 13
MAX_OPSET = 21
INPUT_NAME = "input"


def check_opset(opset):
    """Raises ValueError unless `opset` is an int in the supported range."""
    if (
        isinstance(opset, bool)
        or not isinstance(opset, int)
        or not MIN_OPSET <= opset <= MAX_OPSET
    ):
        raise ValueError(
            f"`opset` must be an int in [{MIN_OPSET}, {MAX_OPSET}]. "
            f"Received: opset={opset!r}"
        )


def convert_to_onnx(model, opset=DEFAULT_OPSET):
    """Converts a Keras 3 model to a serialized ONNX model.

    Args:
        model: `keras.Model` with one input.
        opset: int. ONNX opset version. Defaults to `17`.

    Returns:
        The ONNX model as bytes; its input is named `"input"` and has a
        dynamic batch dimension.

    Raises:
        ValueError: for an out-of-range `opset` or a multi-input model.
        ImportError: if tf2onnx is missing (with the install hint).

    Example:

    ```python
    onnx_bytes = convert_to_onnx(student, opset=17)
    ```
    """
    check_opset(opset)
    input_shape = model_input_shape(model)
    tf2onnx = require("tf2onnx", "ONNX export")
    spec = tf.TensorSpec(
        (None, *input_shape[1:]), model.inputs[0].dtype, name=INPUT_NAME
    )

    @tf.function(input_signature=[spec])
    def serve(x):
        return model(x, training=False)

    onnx_model, _ = tf2onnx.convert.from_function(
        serve, input_signature=[spec], opset=opset
    )
    return onnx_model.SerializeToString()


def export_onnx(model, path, opset=DEFAULT_OPSET, overwrite=False):
    """Converts a Keras 3 model and writes the `.onnx` file atomically.

    Args:
        model: `keras.Model` with one input.
        path: str or `os.PathLike`. Target `.onnx` file.
        opset: int. ONNX opset version. Defaults to `17`.
        overwrite: bool. Replace an existing file. Defaults to `False`.

    Returns:
        The written path as a `pathlib.Path`.

    Raises:
        IsADirectoryError: if `path` is a directory.
        FileExistsError: if `path` exists and `overwrite` is False.
        ValueError, ImportError: see `convert_to_onnx`.

    Example:

    ```python
    export_onnx(student, "student.onnx")
    ```
    """
    path = check_output_path(pathlib.Path(path), overwrite)
    return atomic_write_bytes(path, convert_to_onnx(model, opset), overwrite)
