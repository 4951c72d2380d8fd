"""Tests of translating one layer config between the two Kerases."""

import keras
import pytest
import tf_keras

from kd_toolkit.compress import layer_translation as lt


def _spec(layer):
    return {
        "name": layer.name,
        "class_name": type(layer).__name__,
        "config": layer.get_config(),
    }


def test_dtype_policy_initializers_and_regularizers_are_translated():
    layer = keras.layers.Conv2D(
        4,
        3,
        name="conv",
        dtype="mixed_float16",
        kernel_initializer=keras.initializers.HeNormal(seed=3),
        kernel_regularizer=keras.regularizers.L1L2(l1=0.01, l2=0.02),
        kernel_constraint=keras.constraints.MaxNorm(2.0),
    )
    cls, kwargs = lt.translate_layer(_spec(layer), tf_keras, "tf_keras")
    assert cls is tf_keras.layers.Conv2D
    assert kwargs["dtype"] == "mixed_float16"
    assert isinstance(
        kwargs["kernel_initializer"], tf_keras.initializers.HeNormal
    )
    assert kwargs["kernel_initializer"].seed == 3
    assert kwargs["kernel_regularizer"].get_config() == {
        "l1": pytest.approx(0.01),
        "l2": pytest.approx(0.02),
    }
    assert kwargs["kernel_constraint"].get_config()["max_value"] == 2.0
    rebuilt = cls(**kwargs)
    assert rebuilt.dtype_policy.name == "mixed_float16"


def test_identity_becomes_a_linear_activation_of_the_same_name():
    cls, kwargs = lt.translate_layer(
        _spec(keras.layers.Identity(name="stage1_out")), tf_keras, "tf_keras"
    )
    assert cls is tf_keras.layers.Activation
    assert kwargs["activation"] == "linear"
    assert kwargs["name"] == "stage1_out"


def test_batch_norm_axis_list_and_fused_flag():
    bn = tf_keras.layers.BatchNormalization(name="bn", momentum=0.9)
    bn.build((None, 4, 4, 3))
    cls, kwargs = lt.translate_layer(_spec(bn), keras, "keras")
    assert cls is keras.layers.BatchNormalization
    assert kwargs["axis"] == 3
    assert kwargs["momentum"] == 0.9
    _, kwargs = lt.translate_layer(
        _spec(keras.layers.BatchNormalization(name="bn")), tf_keras, "tf_keras"
    )
    assert kwargs["fused"] is False


def test_input_layer_spec():
    spec = {
        "name": "input",
        "class_name": "InputLayer",
        "config": {
            "batch_shape": [None, 8, 8, 1],
            "dtype": "float32",
            "name": "input",
            "sparse": False,
            "optional": False,
        },
    }
    cls, kwargs = lt.translate_layer(spec, tf_keras, "tf_keras")
    assert cls is None
    assert kwargs == {
        "batch_shape": (None, 8, 8, 1),
        "name": "input",
        "dtype": "float32",
    }


def test_unsupported_type_is_refused():
    spec = _spec(keras.layers.LayerNormalization(name="ln"))
    with pytest.raises(
        lt.UnsupportedLayerError, match="layer type not supported"
    ):
        lt.translate_layer(spec, tf_keras, "tf_keras")


def test_function_activation_and_orthogonal_regularizer_translate():
    act = keras.layers.Activation(keras.activations.relu6, name="act")
    cls, kwargs = lt.translate_layer(_spec(act), tf_keras, "tf_keras")
    assert cls is tf_keras.layers.Activation
    assert kwargs["activation"] == "relu6"
    dense = keras.layers.Dense(
        3,
        name="d",
        kernel_regularizer=keras.regularizers.OrthogonalRegularizer(0.1),
    )
    _, kwargs = lt.translate_layer(_spec(dense), tf_keras, "tf_keras")
    assert isinstance(
        kwargs["kernel_regularizer"],
        tf_keras.regularizers.OrthogonalRegularizer,
    )
    assert kwargs["kernel_regularizer"].factor == pytest.approx(0.1)


def test_custom_activation_is_refused():
    spec = {
        "name": "act",
        "class_name": "Activation",
        "config": {
            "name": "act",
            "activation": {"class_name": "MyActivation", "config": {}},
        },
    }
    with pytest.raises(lt.UnsupportedLayerError, match="custom activation"):
        lt.translate_layer(spec, tf_keras, "tf_keras")


def test_unknown_activation_name_is_refused():
    spec = {
        "name": "act",
        "class_name": "Activation",
        "config": {"name": "act", "activation": "no_such_activation"},
    }
    with pytest.raises(
        lt.UnsupportedLayerError,
        match="'no_such_activation' unknown to tf_keras",
    ):
        lt.translate_layer(spec, tf_keras, "tf_keras")


def test_initializer_argument_without_equivalent_is_refused():
    layer = keras.layers.Dense(
        3,
        name="d",
        kernel_initializer=keras.initializers.HeNormal(input_axes=[0]),
    )
    spec = _spec(layer)
    if "input_axes" not in spec["config"]["kernel_initializer"]["config"]:
        pytest.skip("this Keras has no initializer input_axes")
    with pytest.raises(
        lt.UnsupportedLayerError, match="kernel_initializer argument input_axes"
    ):
        lt.translate_layer(spec, tf_keras, "tf_keras")
