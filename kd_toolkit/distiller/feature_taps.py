"""Multi-output views of a model that expose named hidden activations."""

import keras

from kd_toolkit.utils.model_graph import check_layer_name
from kd_toolkit.utils.model_graph import get_layer
from kd_toolkit.utils.model_graph import is_graph_model
from kd_toolkit.utils.model_graph import layer_names
from kd_toolkit.utils.model_graph import split_path
from kd_toolkit.utils.model_graph import trace

__all__ = [
    "build_view",
    "check_layer_name",
    "feature_shape",
    "is_graph_model",
    "layer_names",
]


def build_view(model, names, role, arg=None):
    """Returns a model mapping inputs to `[output, *activations(names)]`.

    The view shares layers (and weights) with `model`; it is built once, at
    `Distiller` construction, never per step. With no names, returns `None`:
    the caller runs `model` itself. `arg` names the argument that gave the
    names in error messages (default `"{role}_layer"`).

    A name may be a path into a nested model (`"backbone/block3_out"`):
    the view then calls that nested model through a view of its own, so
    its layers still run once per step and the inner activation comes out
    with the outer output.

    Raises:
        ValueError: if a name is unknown (listing close valid names) or the
            model is subclassed and has no layer graph to tap.
    """
    if not names:
        return None
    if not is_graph_model(model):
        raise ValueError(
            f"Feature taps need a functional or sequential {role} model; "
            f"{role} '{model.name}' is a subclassed model with no layer "
            f"graph. Losses that only read the outputs (e.g. KD) work with "
            f"any model. Received: {role} feature names {list(names)}"
        )
    for name in names:
        check_layer_name(model, name, role, arg)
    return _view(model, list(names))


def feature_shape(model, name):
    """Shape of a tapped activation, batch dimension included."""
    return tuple(get_layer(model, name).output.shape)


def _view(model, names):
    if not any(split_path(n)[1] for n in names):
        outputs = [model.outputs[0]] + [
            model.get_layer(n).output for n in names
        ]
        return keras.Model(model.inputs, outputs, name=f"{model.name}_taps")
    inner = {}
    for name in names:
        head, rest = split_path(name)
        if rest is not None:
            inner.setdefault(head, []).append(rest)
    views = {
        head: _view(model.get_layer(head), paths)
        for head, paths in inner.items()
    }
    taps = {}

    def call(layer, *args, **kwargs):
        if layer.name in views:
            outputs = views[layer.name](*args, **kwargs)
            for path, tensor in zip(inner[layer.name], outputs[1:]):
                taps[f"{layer.name}/{path}"] = tensor
            output = outputs[0]
        else:
            output = layer(*args, **kwargs)
        taps.setdefault(layer.name, output)
        return output

    inputs, output = trace(model, call)
    return keras.Model(
        inputs, [output] + [taps[n] for n in names], name=f"{model.name}_taps"
    )
