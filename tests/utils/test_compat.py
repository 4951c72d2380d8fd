"""Each private Keras / TensorFlow API behind kd_toolkit.utils.compat still
behaves as the toolkit uses it (a Keras or TensorFlow upgrade that moves one
fails here first)."""

import inspect
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from kd_toolkit.utils import compat


def _model():
    inputs = keras.Input((4,), name="x")
    hidden = keras.layers.Dense(3, name="dense")(inputs)
    inner = keras.Sequential([keras.layers.Dense(2, name="inner_dense")])
    outputs = inner(hidden)
    return keras.Model(inputs, outputs, name="m")


def test_keras_history_names_the_producing_layer_and_call():
    model = _model()
    history = compat.keras_history(model.layers[1].output)
    assert history.operation is model.get_layer("dense")
    assert (history.node_index, history.tensor_index) == (0, 0)
    assert compat.producing_layer(model.inputs[0]).name == "x"


def test_inbound_and_outbound_nodes_follow_the_calls():
    model = _model()
    dense = model.get_layer("dense")
    assert len(compat.inbound_nodes(dense)) == 1
    assert len(compat.outbound_nodes(dense)) == 1
    # A second call adds an inbound node.
    dense(keras.Input((4,)))
    assert len(compat.inbound_nodes(dense)) == 2


def test_flatten_layers_reaches_nested_layers():
    model = _model()
    names = [layer.name for layer in compat.flatten_layers(model)]
    assert names[0] == "m" and "inner_dense" in names
    without = compat.flatten_layers(model, include_self=False)
    assert "m" not in [layer.name for layer in without]


def test_compiled_metric_lists():
    model = _model()
    model.compile(loss="mse")
    assert compat.compiled_metrics(model) is None
    model.compile(loss="mse", metrics=["mae"], weighted_metrics=["mse"])
    compiled = compat.compiled_metrics(model)
    x, y = np.ones((2, 4), "float32"), np.ones((2, 2), "float32")
    compiled.build(y, model(x))
    metrics, weighted = compat.flat_metric_lists(compiled)
    y_pred = np.zeros((2, 2), "float32")
    for metric in metrics:
        metric.update_state(y, y_pred)
    for metric in weighted:
        metric.update_state(y, y_pred, sample_weight=np.array([1.0, 0.0]))
    results = compiled.result()
    assert float(results["mae"]) == pytest.approx(1.0)
    assert float(results["mse"]) == pytest.approx(1.0)


def test_distribute_strategy_or_none():
    assert compat.distribute_strategy_or_none(_model()) is None
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        model = _model()
    assert compat.distribute_strategy_or_none(model) is strategy


def test_epoch_iterator_creates_a_new_iterator_per_reset():
    model = _model()
    model.compile(loss="mse")
    data = tf.data.Dataset.range(6).map(lambda i: tf.cast(i, "float32"))
    data = data.shuffle(6, seed=1).batch(6)
    iterator = compat.epoch_iterator(data, model)
    epochs = []
    for _ in range(2):
        iterator.reset()
        for _, _, batches in iterator:
            epochs.append(next(batches).numpy().tolist())
    assert len(epochs) == 2 and sorted(epochs[0]) == list(range(6))
    assert epochs[0] != epochs[1]  # Each epoch reshuffles.


def test_op_determinism_enabled_reads_the_switch():
    # In a subprocess: the switch cannot be turned off again in-process.
    script = (
        "import tensorflow as tf\n"
        "from kd_toolkit.utils import compat\n"
        "before = compat.op_determinism_enabled()\n"
        "tf.config.experimental.enable_op_determinism()\n"
        "print(before, compat.op_determinism_enabled())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert done.stdout.split() == ["False", "True"], done.stderr[-2000:]


def test_converter_error_is_what_the_converter_raises():
    @tf.function(input_signature=[tf.TensorSpec([2], tf.string)])
    def unsupported(x):
        return tf.strings.upper(x)

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [unsupported.get_concrete_function()], unsupported
    )
    with pytest.raises(compat.ConverterError):
        converter.convert()


def test_keras_ops_module_is_recorded_in_configs():
    inputs = keras.Input((2,))
    model = keras.Model(inputs, inputs + 3.0)
    modules = [layer["module"] for layer in model.get_config()["layers"]]
    assert any(m.startswith(compat.KERAS_OPS_MODULE) for m in modules), modules


def test_keras_still_calls_maybe_symbolic_build_with_data_batch():
    # Distiller overrides this private hook (see compat's docstring).
    hook = inspect.signature(keras.Model._maybe_symbolic_build)
    assert "data_batch" in hook.parameters and "iterator" in hook.parameters
