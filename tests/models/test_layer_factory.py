"""Tests for kd_toolkit.models.layer_factory."""

import keras

from kd_toolkit.models import layer_factory as lf


def test_conv_is_bias_free_he_normal_and_regularized_on_request():
    layer = lf.conv(8, 3, 2, "c", weight_decay=1e-4)
    config = layer.get_config()
    assert config["use_bias"] is False
    assert config["padding"] == "same"
    assert config["strides"] == (2, 2)
    assert config["kernel_initializer"]["class_name"] == "HeNormal"
    assert config["kernel_regularizer"]["config"]["l2"] == 1e-4
    assert lf.conv(8, 3, 1, "c", 0.0).get_config()["kernel_regularizer"] is None


def test_batch_norm_momentum_and_epsilon():
    config = lf.batch_norm("bn").get_config()
    assert (config["momentum"], config["epsilon"]) == (0.9, 1e-5)


def test_head_outputs_float32_logits_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        inputs = keras.Input((4, 4, 8))
        logits = lf.classifier_head(inputs, 5, weight_decay=0.0)
        assert logits.dtype == "float32"
        assert logits.shape == (None, 5)
    finally:
        keras.mixed_precision.set_global_policy("float32")
