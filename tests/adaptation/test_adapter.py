import keras
import numpy as np
import pytest
import tensorflow as tf

from kd_toolkit.adaptation import ActivationMapAdapter
from kd_toolkit.adaptation import adapter_for_shapes
from kd_toolkit.adaptation import infer_strides


@pytest.mark.parametrize(
    "kind, names",
    [
        (
            "separable",
            [
                "depthwise",
                "depthwise_bn",
                "depthwise_relu",
                "pointwise",
                "pointwise_bn",
                "out_relu",
            ],
        ),
        ("conv", ["conv", "conv_bn", "out_relu"]),
    ],
)
def test_stack_and_output_shape(kind, names):
    adapter = ActivationMapAdapter(filters=6, strides=2, kind=kind)
    y = adapter(np.random.default_rng(0).normal(size=(2, 7, 7, 3)))
    assert tuple(y.shape) == (2, 4, 4, 6)
    assert [layer.name for layer in adapter.stack] == names
    assert float(np.min(y)) >= 0.0  # ends in a ReLU


def test_without_final_relu_outputs_negative_values():
    adapter = ActivationMapAdapter(filters=4, final_relu=False)
    y = adapter(
        np.random.default_rng(0).normal(size=(2, 5, 5, 3)), training=True
    )
    assert float(np.min(y)) < 0.0
    assert "out_relu" not in [layer.name for layer in adapter.stack]


def test_separable_is_lighter_than_conv():
    sep = ActivationMapAdapter(filters=64, kind="separable")
    conv = ActivationMapAdapter(filters=64, kind="conv")
    sep.build((None, 7, 7, 64))
    conv.build((None, 7, 7, 64))
    # depthwise 3*3*64 + pointwise 64*64, vs 3*3*64*64 (+ BN both).
    assert sep.count_params() == 9 * 64 + 4 * 64 + 64 * 64 + 4 * 64
    assert conv.count_params() == 9 * 64 * 64 + 4 * 64


@pytest.mark.parametrize(
    "start, end, stride",
    [
        ((None, 8, 8, 3), (None, 8, 8, 5), 1),
        ((None, 8, 8, 3), (None, 4, 4, 5), 2),
        ((None, 7, 7, 3), (None, 4, 4, 5), 2),
        ((None, 28, 28, 1), (None, 7, 7, 64), 4),
    ],
)
def test_infer_strides(start, end, stride):
    assert infer_strides(start, end) == stride


@pytest.mark.parametrize(
    "start, end, match",
    [
        ((None, 4, 4, 3), (None, 8, 8, 3), "larger than the start"),
        ((None, 8, 8, 3), (None, 6, 6, 3), "No integer stride"),
        ((None, 8, 8, 3), (None, 4, 2, 3), "No integer stride"),
        ((None, 8, 3), (None, 8, 3), "4-D map"),
        ((None, None, 8, 3), (None, 4, 4, 3), "known sizes"),
    ],
)
def test_infer_strides_errors(start, end, match):
    with pytest.raises(ValueError, match=match):
        infer_strides(start, end)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(filters=0), "filters"),
        (dict(filters=4, kernel_size=0), "kernel_size"),
        (dict(filters=4, kind="dense"), r"kind.*\['separable', 'conv'\]"),
        (dict(filters=4, bn_momentum=1.0), "bn_momentum"),
        (dict(filters=4, bn_epsilon=0.0), "bn_epsilon"),
        (dict(filters=4, bn_epsilon="small"), "bn_epsilon='small'"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ActivationMapAdapter(**kwargs)


def test_non_integer_strides_are_a_type_error():
    with pytest.raises(TypeError, match=r"Received: strides=1\.5 of type"):
        ActivationMapAdapter(filters=4, strides=1.5)


def test_final_relu_must_be_bool():
    with pytest.raises(TypeError, match="final_relu"):
        ActivationMapAdapter(filters=4, final_relu="yes")
    with pytest.raises(TypeError, match="stop_input_gradient"):
        ActivationMapAdapter(filters=4, stop_input_gradient=1)


@pytest.mark.parametrize("stop", [False, True])
def test_stop_input_gradient(stop):
    adapter = ActivationMapAdapter(filters=3, stop_input_gradient=stop)
    x = tf.constant(
        np.random.default_rng(0).normal(size=(2, 4, 4, 2)), "float32"
    )
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tf.reduce_sum(adapter(x, training=True) ** 2)
    assert (tape.gradient(y, x) is None) is stop
    assert all(
        g is not None for g in tape.gradient(y, adapter.trainable_weights)
    )


def test_adapter_for_shapes_is_built_with_inferred_strides():
    adapter = adapter_for_shapes(
        (None, 14, 14, 32),
        (None, 7, 7, 64),
        kind="conv",
        kernel_size=5,
        final_relu=False,
        name="a",
    )
    assert adapter.built
    assert (adapter.strides, adapter.filters, adapter.kernel_size) == (2, 64, 5)
    assert adapter.name == "a"


def test_config_round_trip():
    adapter = ActivationMapAdapter(
        filters=6,
        strides=2,
        kind="conv",
        kernel_size=5,
        final_relu=False,
        bn_momentum=0.8,
        bn_epsilon=1e-3,
        stop_input_gradient=True,
        name="ad",
    )
    config = adapter.get_config()
    clone = ActivationMapAdapter.from_config(config)
    assert clone.get_config() == config
    for key, value in dict(
        filters=6,
        strides=2,
        kind="conv",
        kernel_size=5,
        final_relu=False,
        bn_momentum=0.8,
        bn_epsilon=1e-3,
        stop_input_gradient=True,
    ).items():
        assert config[key] == value


def test_save_and_load(tmp_path):
    inputs = keras.Input((6, 6, 3))
    model = keras.Model(
        inputs, ActivationMapAdapter(4, strides=2, name="ad")(inputs)
    )
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 3)).astype("float32")
    model(x, training=True)  # move the BN statistics away from the init
    path = tmp_path / "adapter.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.get_layer("ad"), ActivationMapAdapter)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)


def test_copy_weights_from_checks_count_and_shapes():
    adapter = ActivationMapAdapter(filters=4, kind="conv", name="ad")
    adapter.build((None, 5, 5, 3))
    conv = keras.layers.Conv2D(4, 3, use_bias=False, name="src_conv")
    conv.build((None, 5, 5, 3))
    bn = keras.layers.BatchNormalization(name="src_bn")
    bn.build((None, 5, 5, 4))
    bn.set_weights([np.full(4, 2.0)] * 4)
    adapter.copy_weights_from(conv, bn)
    np.testing.assert_array_equal(adapter.stack[0].kernel, conv.kernel)
    np.testing.assert_array_equal(
        adapter.stack[1].moving_variance, np.full(4, 2.0)
    )
    with pytest.raises(ValueError, match="2 weighted sublayers"):
        adapter.copy_weights_from(conv)
    wide = keras.layers.Conv2D(5, 3, use_bias=False, name="wide")
    wide.build((None, 5, 5, 3))
    with pytest.raises(
        ValueError,
        match=r"'wide' into adapter sublayer "
        r"'conv'.*\(3, 3, 3, 4\)",
    ):
        adapter.copy_weights_from(wide, bn)
