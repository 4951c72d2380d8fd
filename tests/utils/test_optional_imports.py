import pytest

from kd_toolkit.utils import optional_imports
from kd_toolkit.utils.optional_imports import require


def test_missing_module_names_the_install_command():
    with pytest.raises(
        ImportError,
        match=r"`kd_toolkit_no_such_runtime` is "
        r"required for testing .*pip install "
        r"kd_toolkit\[export\]",
    ):
        require("kd_toolkit_no_such_runtime", "testing")
    with pytest.raises(ImportError, match=r"kd_toolkit\[compress\]"):
        require("kd_toolkit_no_such_runtime", "testing", extra="compress")
    with pytest.raises(ValueError, match="Received: extra='gpu'"):
        require("onnxruntime", "testing", extra="gpu")


def test_present_module_is_returned():
    assert (
        require("onnxruntime", "running .onnx files").__name__ == "onnxruntime"
    )


def test_tfmot_is_the_model_optimization_package():
    tfmot = optional_imports.tfmot()
    assert tfmot.__name__ == "tensorflow_model_optimization"
    assert callable(tfmot.sparsity.keras.prune_low_magnitude)
    assert callable(tfmot.quantization.keras.quantize_model)
