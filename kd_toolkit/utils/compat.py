"""The private Keras and TensorFlow APIs the toolkit relies on, in one place.

Keras 3 and TensorFlow keep some of what a distillation toolkit needs out
of their public API: the graph of a functional model (which layer made a
tensor, the nodes a layer is called in), the flat list of a model's layers,
the compiled metrics, the epoch iterator `fit` uses, whether op determinism
is on, and the converter's error type. Every other module reaches them
through the functions here, so a Keras or TensorFlow upgrade that moves one
breaks this file and its test (`tests/utils/test_compat.py`), not a dozen
call sites; `tests/test_codebase.py` checks that no other module touches
them. Versions checked: Keras 3.15, TensorFlow 2.21.

Besides these, `Distiller` overrides `keras.Model._maybe_symbolic_build`
(to build from one replica's batch under a multi-worker strategy); the
test checks that Keras still calls it with `data_batch`.
"""

import collections

from keras.src.backend.tensorflow.trainer import TFEpochIterator

# The converter's structured error (op names, error codes) is not
# re-exported under `tf.lite`; this module path is stable since TF 2.7.
from tensorflow.lite.python.convert_phase import ConverterError
from tensorflow.python.framework.config import is_op_determinism_enabled

__all__ = [
    "KERAS_OPS_MODULE",
    "ConverterError",
    "KerasHistory",
    "compiled_metrics",
    "distribute_strategy_or_none",
    "epoch_iterator",
    "flat_metric_lists",
    "flatten_layers",
    "inbound_nodes",
    "keras_history",
    "op_determinism_enabled",
    "outbound_nodes",
    "producing_layer",
]

# The module prefix of the operations (`keras.ops.add`, ...) a functional
# model records as layers in its config (`"module": "keras.src.ops.numpy"`).
KERAS_OPS_MODULE = "keras.src.ops"

KerasHistory = collections.namedtuple(
    "KerasHistory", ["operation", "node_index", "tensor_index"]
)


def keras_history(tensor):
    """`(operation, node_index, tensor_index)` of a symbolic Keras tensor.

    The layer (or op) that produced `tensor`, the index of the call among
    that layer's inbound nodes, and the output index within the call.
    """
    operation, node_index, tensor_index = tensor._keras_history
    return KerasHistory(operation, node_index, tensor_index)


def producing_layer(tensor):
    """The layer (or op, or `InputLayer`) that produced a symbolic tensor."""
    return tensor._keras_history[0]


def inbound_nodes(layer):
    """The nodes in which `layer` is called, in call order."""
    return layer._inbound_nodes


def outbound_nodes(layer):
    """The nodes that read `layer`'s outputs."""
    return layer._outbound_nodes


def flatten_layers(model, include_self=True):
    """Every layer tracked by `model`, nested ones included, depth first."""
    return list(model._flatten_layers(include_self=include_self))


def distribute_strategy_or_none(model):
    """The strategy `model` was created under, or None for the default one.

    `model.distribute_strategy` returns the default strategy when none was
    set; this tells the two apart.
    """
    return model._distribute_strategy


def compiled_metrics(model):
    """The object behind `compile(metrics=..., weighted_metrics=...)`.

    None if the model was compiled without metrics. It is a metric (with
    `built`, `build(y, y_pred)`); `flat_metric_lists` gives what it holds.
    """
    return model._compile_metrics


def flat_metric_lists(compiled):
    """`(metrics, weighted_metrics)`: the flat lists in `compiled_metrics`.

    One entry per output and metric; an entry is None for an output
    without one.
    """
    return compiled._flat_metrics, compiled._flat_weighted_metrics


def epoch_iterator(dataset, model):
    """Keras's own epoch iterator over `dataset`, as `model.fit` builds it.

    Iterating it yields `(step, index, batches)` per execution; each
    `reset()` creates a new iterator over `dataset`, as each epoch of `fit`
    does.
    """
    return TFEpochIterator(
        x=dataset,
        distribute_strategy=model.distribute_strategy,
        steps_per_execution=model.steps_per_execution,
    )


def op_determinism_enabled():
    """Whether `tf.config.experimental.enable_op_determinism()` is on."""
    return is_op_determinism_enabled()
