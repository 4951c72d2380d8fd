"""Layer-graph helpers shared by the distiller and the adaptation code.

A low-level module: it imports only Keras, so every package may use it
without an arrow pointing up the package graph.
"""

import difflib

import keras


def layer_names(model):
    """All layer names of a functional or sequential model, in graph order."""
    return [layer.name for layer in model.layers]


def check_layer_name(model, name, role, arg=None):
    """Raises a `ValueError` listing close names when `name` is not a layer.

    Args:
        model: the model that should hold the layer.
        name: the requested layer name.
        role: `"teacher"` or `"student"`, used in the message.
        arg: str or None. The argument named in the message; defaults to
            `"{role}_layer"`.
    """
    names = layer_names(model)
    if name in names:
        return
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
    hint = f" Closest names: {close}." if close else ""
    raise ValueError(
        f"Unknown {role} layer name.{hint} Valid names of {role} "
        f"'{model.name}': {names}. Received: {arg or role + '_layer'}={name!r}"
    )


def is_graph_model(model):
    """Whether the model is functional or sequential (has a layer graph)."""
    return isinstance(model, keras.Model) and _has_graph(model)


def _has_graph(model):
    try:
        return bool(model.inputs) and bool(model.outputs)
    except (AttributeError, ValueError):
        return False
