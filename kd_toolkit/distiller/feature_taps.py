"""Multi-output views of a model that expose named hidden activations."""

import keras

from kd_toolkit.utils.model_graph import check_layer_name
from kd_toolkit.utils.model_graph import is_graph_model
from kd_toolkit.utils.model_graph import layer_names

__all__ = ["build_view", "check_layer_name", "is_graph_model", "layer_names"]


def build_view(model, names, role, arg=None):
    """Returns a model mapping inputs to `[output, *activations(names)]`.

    The view shares layers (and weights) with `model`; it is built once, at
    `Distiller` construction, never per step. With no names, returns `None`:
    the caller runs `model` itself. `arg` names the argument that gave the
    names in error messages (default `"{role}_layer"`).

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
    outputs = [model.outputs[0]] + [model.get_layer(n).output for n in names]
    return keras.Model(model.inputs, outputs, name=f"{model.name}_taps")
