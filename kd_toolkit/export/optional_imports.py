"""Lazy imports of the optional export runtimes, with an install hint."""

import importlib

INSTALL_HINT = "pip install kd_toolkit[export]"


def require(module_name, purpose):
    """Imports an optional module, or explains how to install it.

    Args:
        module_name: str. Dotted module name, e.g. `"onnxruntime"`.
        purpose: str. What the module is needed for, used in the error.

    Returns:
        The imported module.

    Raises:
        ImportError: if the module is not installed; the message names the
            module, the purpose and the install command.
    """
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        raise ImportError(
            f"`{module_name}` is required for {purpose} but could not be "
            f"imported ({error}). Install the export extras with: "
            f"`{INSTALL_HINT}`."
        ) from error
