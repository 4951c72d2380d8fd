"""Tests of reading a model's layer graph from its config."""

import keras
import pytest
import tf_keras

from kd_toolkit.compress import config_graph
from kd_toolkit.compress.config_graph import TensorRef


def _keras3_residual():
    inputs = keras.Input((4, 4, 2), name="input")
    a = keras.layers.Conv2D(2, 1, name="conv")(inputs)
    b = keras.layers.Add(name="add")([inputs, a])
    out = keras.layers.BatchNormalization(name="bn")(b)
    return keras.Model(inputs, [out, a], name="residual")


def _tf_keras_residual():
    inputs = tf_keras.Input((4, 4, 2), name="input")
    a = tf_keras.layers.Conv2D(2, 1, name="conv")(inputs)
    b = tf_keras.layers.Add(name="add")([inputs, a])
    out = tf_keras.layers.BatchNormalization(name="bn")(b)
    return tf_keras.Model(inputs, [out, a], name="residual")


@pytest.mark.parametrize("build", [_keras3_residual, _tf_keras_residual])
def test_both_kerases_read_to_the_same_graph(build):
    graph = config_graph.read_graph(build())
    assert graph.name == "residual"
    assert [spec["name"] for spec in graph.layers] == [
        "input",
        "conv",
        "add",
        "bn",
    ]
    calls = {call.layer: call for call in graph.calls}
    assert calls["conv"].args == [TensorRef("input", 0, 0)]
    assert calls["add"].args == [
        [TensorRef("input", 0, 0), TensorRef("conv", 0, 0)]
    ]
    assert calls["add"].refs() == [
        TensorRef("input", 0, 0),
        TensorRef("conv", 0, 0),
    ]
    assert graph.inputs == [TensorRef("input", 0, 0)]
    assert graph.outputs == [TensorRef("bn", 0, 0), TensorRef("conv", 0, 0)]


@pytest.mark.parametrize("module", [keras, tf_keras])
def test_sequential_becomes_a_chain_from_an_input_layer(module):
    model = module.Sequential(
        [module.layers.Dense(3, name="d1"), module.layers.Dense(2, name="d2")],
        name="seq",
    )
    model.build((None, 5))
    graph = config_graph.read_graph(model)
    first = graph.layers[0]
    assert first["class_name"] == "InputLayer"
    shape = first["config"].get("batch_shape") or first["config"].get(
        "batch_input_shape"
    )
    assert tuple(shape) == (None, 5)
    assert [c.args for c in graph.calls] == [
        [TensorRef(first["name"], 0, 0)],
        [TensorRef("d1", 0, 0)],
    ]
    assert graph.inputs == [TensorRef(first["name"], 0, 0)]
    assert graph.outputs == [TensorRef("d2", 0, 0)]


def test_subclassed_model_has_no_graph():
    class Net(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(
        ValueError, match="Received: a subclassed model of type Net"
    ):
        config_graph.read_graph(Net())
