"""Multi-output views of a model that expose named hidden activations."""

import difflib

import keras


def layer_names(model):
    """All layer names of a functional or sequential model, in graph order."""
    return [layer.name for layer in model.layers]


def check_layer_name(model, name, role):
    """Raises a `ValueError` listing close names when `name` is not a layer.

    Args:
        model: the model that should hold the layer.
        name: the requested layer name.
        role: `"teacher"` or `"student"`, used in the message.
    """
    names = layer_names(model)
    if name in names:
        return
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
    hint = f" Closest names: {close}." if close else ""
    raise ValueError(
        f"Unknown {role} layer name.{hint} Valid names of {role} "
        f"'{model.name}': {names}. Received: {role}_layer={name!r}")


def is_graph_model(model):
    """Whether the model is functional or sequential (has a layer graph)."""
    return isinstance(model, keras.Model) and _has_graph(model)


def _has_graph(model):
    try:
        return bool(model.inputs) and bool(model.outputs)
    except (AttributeError, ValueError):
        return False


def build_view(model, names, role):
    """Returns a model mapping inputs to `[output, *activations(names)]`.

    The view shares layers (and weights) with `model`; it is built once, at
    `Distiller` construction, never per step. With no names, returns `None`:
    the caller runs `model` itself.

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
            f"any model. Received: {role} feature names {list(names)}")
    for name in names:
        check_layer_name(model, name, role)
    outputs = [model.outputs[0]] + [model.get_layer(n).output for n in names]
    return keras.Model(model.inputs, outputs, name=f"{model.name}_taps")
