"""Imports of the optional dependencies, with the extra that installs each.

`kd_toolkit[export]` brings the export runtimes (LiteRT, tf2onnx,
onnxruntime), `kd_toolkit[compress]` the compression stage
(tensorflow-model-optimization, tf_keras).
"""

import importlib

EXTRAS = ("export", "compress")


def require(module_name, purpose, extra="export"):
    """Imports an optional module, or explains how to install it.

    Args:
        module_name: str. Dotted module name, e.g. `"onnxruntime"`.
        purpose: str. What the module is needed for, used in the error.
        extra: str. The `kd_toolkit` extra that installs it, one of
            `EXTRAS`. Defaults to `"export"`.

    Returns:
        The imported module.

    Raises:
        ImportError: if the module is not installed; the message names the
            module, the purpose and the install command.
        ValueError: for an unknown `extra`.
    """
    if extra not in EXTRAS:
        raise ValueError(
            f"`extra` must be one of {list(EXTRAS)}. Received: extra={extra!r}"
        )
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        raise ImportError(
            f"`{module_name}` is required for {purpose} but could not be "
            f"imported ({error}). Install the {extra} extras with: "
            f"`pip install kd_toolkit[{extra}]`."
        ) from error


def tfmot():
    """The `tensorflow_model_optimization` module (`kd_toolkit[compress]`)."""
    return require(
        "tensorflow_model_optimization", "pruning and QAT", extra="compress"
    )
