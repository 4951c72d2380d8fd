"""The Keras 3 <-> `tf_keras` (Keras 2) bridge for model optimization.

tensorflow-model-optimization (tfmot) only wraps `tf_keras` models, and
kd_toolkit builds Keras 3 models. This module, the only place in the project
that imports `tf_keras`, rebuilds a functional (or sequential) model in the
other Keras, layer by layer under the same layer names, copies the weights,
and checks that both models compute the same outputs.

How: the graph is read from `get_config()` (`model_graph`), every layer
config is translated (`layer_translation`; all unsupported layers are
reported at once, with their types, before anything is built), the layers
are called on the rebuilt tensors in dependency order (multi-input nodes
such as `Add` included), then weights are copied layer by layer and the
outputs compared on random inputs.

Size: the two translations (Keras 3 to tf_keras and back) and their parity
check share the layer tables; to split next: the optimizer helper.
"""

import inspect
import logging

import keras
import numpy as np

from kd_toolkit.compress import config_graph
from kd_toolkit.compress import layer_translation
from kd_toolkit.compress import op_nodes
from kd_toolkit.compress.layer_translation import SUPPORTED_LAYERS
from kd_toolkit.compress.layer_translation import UnsupportedLayerError

__all__ = [
    "SUPPORTED_LAYERS",
    "ParityError",
    "UnsupportedLayerError",
    "clone_tf_keras_model",
    "is_tf_keras_model",
    "max_output_difference",
    "parity",
    "tf_keras_optimizer",
    "to_keras3",
    "to_tf_keras",
]


DEFAULT_ATOL = 1e-6
DEFAULT_RTOL = 1e-5
_LOG = logging.getLogger("kd_toolkit")


class ParityError(RuntimeError):
    """Raised when the rebuilt model does not compute the source's outputs."""


def to_tf_keras(
    model,
    check_parity=True,
    atol=DEFAULT_ATOL,
    parity_input_shape=None,
    rtol=DEFAULT_RTOL,
):
    """Rebuilds a Keras 3 functional model in `tf_keras` with its weights.

    Layer names are kept. `Identity` becomes `Activation("linear")`.

    Args:
        model: a functional or sequential `keras.Model` (Keras 3) made of
            `SUPPORTED_LAYERS`.
        check_parity: bool. Run both models on 2 random inputs in inference
            mode and require `max |difference| <= atol + rtol * scale`,
            `scale` the largest |output| of the source (`parity`).
            Defaults to `True`.
        atol: float > 0. Absolute part of the tolerance. Defaults to
            `1e-6`.
        parity_input_shape: tuple or None. Per-example input shape for the
            parity check, needed only when the model's input has unknown
            dimensions.
        rtol: float >= 0. Part of the tolerance relative to the output's
            scale: float32 round-off grows with it. Defaults to `1e-5`.

    Returns:
        A `tf_keras.Model` with the same layer names and weights.

    Raises:
        TypeError: if `model` is not a Keras 3 model.
        ValueError: if `model` is subclassed (no layer graph).
        UnsupportedLayerError: naming every layer that cannot be rebuilt.
        ParityError: if the outputs differ by more than the tolerance.

    Example:

    ```python
    legacy = to_tf_keras(student)
    pruned = tfmot.sparsity.keras.prune_low_magnitude(legacy)
    ```
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            "`model` must be a Keras 3 `keras.Model`. Received: "
            f"model={model!r} of type {type(model).__name__}"
        )
    return _convert(
        model,
        _tf_keras(),
        "tf_keras",
        check_parity and (atol, rtol),
        parity_input_shape,
    )


def to_keras3(
    model,
    check_parity=True,
    atol=DEFAULT_ATOL,
    parity_input_shape=None,
    rtol=DEFAULT_RTOL,
):
    """Rebuilds a `tf_keras` functional model in Keras 3 with its weights.

    Use it on plain layers, e.g. after `tfmot.sparsity.keras.strip_pruning`;
    quantization wrappers have no Keras 3 equivalent (export a QAT model
    straight from `tf_keras`).

    Args:
        model: a functional or sequential `tf_keras.Model`.
        check_parity: bool. See `to_tf_keras`. Defaults to `True`.
        atol: float > 0. See `to_tf_keras`. Defaults to `1e-6`.
        parity_input_shape: tuple or None. See `to_tf_keras`.
        rtol: float >= 0. See `to_tf_keras`. Defaults to `1e-5`.

    Returns:
        A Keras 3 `keras.Model` with the same layer names and weights.

    Raises:
        TypeError: if `model` is not a `tf_keras` model.
        ValueError: if `model` is subclassed (no layer graph).
        UnsupportedLayerError: naming every layer that cannot be rebuilt.
        ParityError: if the outputs differ by more than the tolerance.

    Example:

    ```python
    student = to_keras3(tfmot.sparsity.keras.strip_pruning(pruned))
    ```
    """
    if not is_tf_keras_model(model):
        raise TypeError(
            "`model` must be a `tf_keras.Model`. Received: "
            f"model={model!r} of type {type(model).__name__}"
        )
    return _convert(
        model,
        keras,
        "keras",
        check_parity and (atol, rtol),
        parity_input_shape,
    )


def is_tf_keras_model(model):
    """True if `model` is a `tf_keras` (Keras 2) model."""
    return isinstance(model, _tf_keras().Model)


def clone_tf_keras_model(model, clone_function):
    """`tf_keras.models.clone_model` (for tfmot per-layer annotation).

    Args:
        model: a functional `tf_keras.Model`.
        clone_function: callable mapping each layer to its replacement.

    Returns:
        The cloned `tf_keras.Model`.
    """
    return _tf_keras().models.clone_model(model, clone_function=clone_function)


def tf_keras_optimizer(name, learning_rate, decay_steps=None):
    """A `tf_keras` optimizer for fine-tuning a tfmot model.

    Args:
        name: str. `"adam"` or `"sgd"` (SGD with Nesterov momentum 0.9).
        learning_rate: float > 0.
        decay_steps: int >= 1 or None. Cosine-decay the rate to 0 over this
            many steps; None keeps it constant.

    Returns:
        A `tf_keras.optimizers.Optimizer`.

    Raises:
        ValueError: for an unknown `name` or a non-positive rate.
    """
    choices = ("adam", "sgd")
    if name not in choices:
        raise ValueError(
            f"`optimizer` must be one of {list(choices)}. "
            f"Received: optimizer={name!r}"
        )
    if isinstance(learning_rate, bool) or not (
        isinstance(learning_rate, (int, float)) and learning_rate > 0
    ):
        raise ValueError(
            "`learning_rate` must be a number > 0. Received: "
            f"learning_rate={learning_rate!r}"
        )
    optimizers = _tf_keras().optimizers
    rate = (
        learning_rate
        if decay_steps is None
        else (optimizers.schedules.CosineDecay(learning_rate, decay_steps))
    )
    if name == "adam":
        return optimizers.Adam(rate)
    return optimizers.SGD(rate, momentum=0.9, nesterov=True)


def parity(
    source, rebuilt, atol=DEFAULT_ATOL, rtol=DEFAULT_RTOL, input_shape=None
):
    """Checks that `rebuilt` computes `source`'s outputs, relative to their
    scale, and returns what it measured.

    Both run on 2 random inputs in inference mode; they agree when
    `max |difference| <= atol + rtol * scale`, `scale` the largest
    |output| of `source`: float32 round-off grows with the values it
    rounds, so an absolute bound alone passes or fails the same network by
    chance of its weights.

    Args:
        source, rebuilt: Keras 3 or `tf_keras` models with the same inputs
            and outputs.
        atol: float > 0. Absolute part of the tolerance.
        rtol: float >= 0. Relative part of the tolerance.
        input_shape: tuple or None. See `max_output_difference`.

    Returns:
        `(difference, scale)`, both floats.

    Raises:
        ParityError: if the outputs differ by more than the tolerance; the
            message gives the difference, the scale and the bound.
        ValueError: for a bad `atol` or `rtol`.
    """
    _check_tolerance(atol, rtol)
    diff, scale = _difference_and_scale(source, rebuilt, input_shape)
    bound = atol + rtol * scale
    message = (
        f"max |difference| = {diff:.3g} on outputs of scale {scale:.3g} "
        f"(relative {diff / scale if scale else float('inf'):.3g}); bound "
        f"atol + rtol * scale = {atol:g} + {rtol:g} * {scale:.3g} = "
        f"{bound:.3g}"
    )
    if not diff <= bound:
        raise ParityError(
            f"The rebuild of '{source.name}' differs from the source: "
            f"{message}."
        )
    _LOG.info("parity of the rebuild of '%s': %s", source.name, message)
    return diff, scale


def max_output_difference(a, b, input_shape=None, batch_size=2, seed=0):
    """Largest absolute output difference of two models on random inputs.

    Inputs are uniform in `[0, 1)` (the range of kd_toolkit images); both
    models run in inference mode.

    Args:
        a: a Keras 3 or `tf_keras` model.
        b: a model with the same inputs and outputs.
        input_shape: tuple or None. Per-example input shape; defaults to
            the model's own (it must then be fully known).
        batch_size: int >= 1. Defaults to `2`.
        seed: int. Seed of the random inputs. Defaults to `0`.

    Returns:
        float, `max |a(x) - b(x)|` over every output.

    Raises:
        ValueError: if an input dimension is unknown and `input_shape` is
            not given.
    """
    return _difference_and_scale(a, b, input_shape, batch_size, seed)[0]


def _difference_and_scale(a, b, input_shape=None, batch_size=2, seed=0):
    """`(max |a(x) - b(x)|, max |a(x)|)` on the random inputs of
    `max_output_difference`."""
    rng = np.random.default_rng(seed)
    xs = []
    for tensor in a.inputs:
        shape = tuple(input_shape or tuple(tensor.shape)[1:])
        if any(d is None for d in shape):
            raise ValueError(
                "The model input has unknown dimensions; pass the shape to "
                "check parity on. Received: parity_input_shape="
                f"{input_shape!r} for input shape {tuple(tensor.shape)}"
            )
        xs.append(rng.uniform(size=(batch_size,) + shape).astype("float32"))
    x = xs[0] if len(xs) == 1 else xs
    out_a = _as_list(a(x, training=False))
    out_b = _as_list(b(x, training=False))
    return max(
        float(
            np.max(np.abs(np.asarray(p, "float64") - np.asarray(q, "float64")))
        )
        for p, q in zip(out_a, out_b, strict=True)
    ), max(float(np.max(np.abs(np.asarray(p, "float64")))) for p in out_a)


def _check_tolerance(atol, rtol):
    if isinstance(atol, bool) or not (
        isinstance(atol, (int, float)) and atol > 0
    ):
        raise ValueError(
            f"`atol` must be a number > 0. Received: atol={atol!r}"
        )
    if isinstance(rtol, bool) or not (
        isinstance(rtol, (int, float)) and rtol >= 0
    ):
        raise ValueError(
            f"`rtol` must be a number >= 0. Received: rtol={rtol!r}"
        )


def _tf_keras():
    try:
        import tf_keras
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(
            "kd_toolkit.compress needs tf_keras and "
            "tensorflow-model-optimization: pip install "
            "'kd_toolkit[compress]'"
        ) from error
    return tf_keras


def _convert(model, module, target_name, tolerance, parity_input_shape):
    """Rebuilds `model` in `module`; `tolerance` is `(atol, rtol)` to check
    parity with, or False."""
    if tolerance:
        # Bad tolerances fail before the (slow) rebuild.
        parity_args = dict(atol=tolerance[0], rtol=tolerance[1])
        _check_tolerance(**parity_args)
    graph = config_graph.read_graph(model)
    specs, call_args, problems = {}, {}, []
    for layer in graph.layers:
        name = layer["name"]
        try:
            if op_nodes.is_op_node(layer):
                cls, kwargs, args = op_nodes.translate_op_node(
                    layer, [c for c in graph.calls if c.layer == name], module
                )
                specs[name], call_args[name] = (cls, kwargs), args
            else:
                specs[name] = layer_translation.translate_layer(
                    layer, module, target_name
                )
        except (UnsupportedLayerError, op_nodes.OpNodeError) as error:
            kind = (
                op_nodes.op_name(layer)
                if op_nodes.is_op_node(layer)
                else layer["class_name"]
            )
            problems.append(f"'{name}' ({kind}): {error}")
    if problems:
        raise UnsupportedLayerError(
            f"Cannot rebuild model '{graph.name}' in {target_name}: "
            f"{len(problems)} unsupported layer(s):\n  "
            + "\n  ".join(problems)
            + f"\nSupported layer types: {list(SUPPORTED_LAYERS)}"
        )
    rebuilt = _assemble(graph, specs, module, call_args)
    _copy_weights(
        model,
        rebuilt,
        [
            name
            for name, (cls, _) in specs.items()
            if cls is not None and name not in call_args
        ],
    )
    if tolerance:
        parity(model, rebuilt, input_shape=parity_input_shape, **parity_args)
    return rebuilt


def _assemble(graph, specs, module, call_args):
    """Calls the rebuilt layers in dependency order; `call_args` replaces
    the arguments of the calls of op nodes rebuilt as layers."""
    layers, tensors = {}, {}
    for layer in graph.layers:
        cls, kwargs = specs[layer["name"]]
        if cls is None:
            tensors[(layer["name"], 0, 0)] = module.Input(**kwargs)
        else:
            layers[layer["name"]] = cls(**kwargs)
    pending = list(graph.calls)
    while pending:
        ready = [
            c for c in pending if all(_key(r) in tensors for r in c.refs())
        ]
        if not ready:
            names = sorted({c.layer for c in pending})
            raise UnsupportedLayerError(
                f"Cannot order the graph of '{graph.name}': layers {names} "
                "wait on tensors that are never produced."
            )
        for call in ready:
            pending.remove(call)
            layer = layers[call.layer]
            kwargs = _call_kwargs(layer, _resolve(call.kwargs, tensors))
            args = call_args.get(call.layer, call.args)
            out = layer(*_resolve(args, tensors), **kwargs)
            for i, tensor in enumerate(_as_list(out)):
                tensors[(call.layer, call.node, i)] = tensor
    inputs = [tensors[_key(r)] for r in graph.inputs]
    outputs = [tensors[_key(r)] for r in graph.outputs]
    return module.Model(
        inputs[0] if len(inputs) == 1 else inputs,
        outputs[0] if len(outputs) == 1 else outputs,
        name=graph.name,
    )


def _key(ref):
    return (ref.layer, ref.node, ref.tensor)


def _resolve(obj, tensors):
    if isinstance(obj, config_graph.TensorRef):
        return tensors[_key(obj)]
    if isinstance(obj, dict):
        return {k: _resolve(v, tensors) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_resolve(v, tensors) for v in obj]
    return obj


def _call_kwargs(layer, kwargs):
    """Keeps the call arguments the target layer takes; drops unset ones."""
    params = inspect.signature(layer.call).parameters
    kept = {}
    for key, value in kwargs.items():
        if value is None:
            continue
        if key not in params:
            raise UnsupportedLayerError(
                f"Layer '{layer.name}' was called with {key}={value!r}, "
                "which its rebuilt version does not take."
            )
        kept[key] = value
    return kept


def _copy_weights(source, rebuilt, names):
    for name in names:
        layer = rebuilt.get_layer(name)
        values = source.get_layer(name).get_weights()
        expected = [tuple(w.shape) for w in layer.weights]
        if [v.shape for v in values] != expected:
            raise UnsupportedLayerError(
                f"Layer '{layer.name}': weight shapes "
                f"{[v.shape for v in values]} do not match the rebuilt "
                f"layer's {expected}."
            )
        layer.set_weights(values)


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]
