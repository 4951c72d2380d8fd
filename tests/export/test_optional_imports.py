import pytest

from kd_toolkit.export.optional_imports import require


def test_missing_module_names_the_install_command():
    with pytest.raises(
        ImportError,
        match=r"`kd_toolkit_no_such_runtime` is "
        r"required for testing .*pip install "
        r"kd_toolkit\[export\]",
    ):
        require("kd_toolkit_no_such_runtime", "testing")


def test_present_module_is_returned():
    assert (
        require("onnxruntime", "running .onnx files").__name__ == "onnxruntime"
    )
