"""Tests of the optional tfmot import."""

from kd_toolkit.compress import optional_imports


def test_tfmot_is_the_model_optimization_package():
    tfmot = optional_imports.tfmot()
    assert tfmot.__name__ == "tensorflow_model_optimization"
    assert callable(tfmot.sparsity.keras.prune_low_magnitude)
    assert callable(tfmot.quantization.keras.quantize_model)
