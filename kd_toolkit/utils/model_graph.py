"""Layer-graph helpers shared by the distiller and the adaptation code.

A low-level module: it imports only Keras, so every package may use it
without an arrow pointing up the package graph.

Layers inside a nested model (the usual transfer-learning network,
`Sequential([Input, MobileNetV3Small(include_top=False), GAP, Dense])`)
are named by a path, `"MobileNetV3Small/expanded_conv_10_add"`: the nested
model's name, a slash, the layer's name inside it (Keras forbids `/` in
layer names, so a path is never ambiguous).
"""

import difflib

import keras

SEPARATOR = "/"


def layer_names(model):
    """All layer names of a functional or sequential model, in graph order,
    with the layers of nested functional/sequential models as paths
    (`"backbone/block1_out"`) after the nested model's own name."""
    names = []
    for layer in model.layers:
        names.append(layer.name)
        if is_graph_model(layer):
            names += [
                f"{layer.name}{SEPARATOR}{inner}"
                for inner in layer_names(layer)
            ]
    return names


def split_path(name):
    """`("backbone", "block1_out")` for `"backbone/block1_out"`,
    `(name, None)` for a top-level name."""
    head, sep, rest = name.partition(SEPARATOR)
    return (head, rest) if sep else (name, None)


def get_layer(model, name):
    """The layer a name or a nested path names.

    Raises:
        ValueError: from Keras, for an unknown name (callers check names
            with `check_layer_name` first).
    """
    head, rest = split_path(name)
    layer = model.get_layer(head)
    return layer if rest is None else get_layer(layer, rest)


def check_layer_name(model, name, role, arg=None):
    """Raises a `ValueError` listing close names when `name` is not a layer.

    Args:
        model: the model that should hold the layer.
        name: the requested layer name, or a path into a nested model.
        role: `"teacher"` or `"student"`, used in the message.
        arg: str or None. The argument named in the message; defaults to
            `"{role}_layer"`.
    """
    names = layer_names(model)
    if name in names:
        return
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
    hint = f" Closest names: {close}." if close else ""
    nested = any(SEPARATOR in n for n in names)
    paths = (
        " Layers inside a nested model are named by their path, "
        "'<model>/<layer>'."
        if nested
        else ""
    )
    raise ValueError(
        f"Unknown {role} layer name.{hint}{paths} Valid names of {role} "
        f"'{model.name}': {names}. Received: {arg or role + '_layer'}={name!r}"
    )


def trace(model, call, inputs=None):
    """Runs `model`'s graph with every layer call made by
    `call(layer, *args, **kwargs)`; returns `(inputs, output)`.

    The layers are the model's own (weights shared). `inputs`: the
    symbolic tensor(s) to run the graph on; None makes new `keras.Input`s.
    """
    if isinstance(model, keras.Sequential):
        if inputs is None:
            inputs = keras.Input(
                batch_shape=model.inputs[0].shape, dtype=model.inputs[0].dtype
            )
        x = inputs
        for layer in model.layers:
            x = call(layer, x)
        return inputs, x
    if isinstance(model.input, (list, tuple)) and isinstance(
        inputs, keras.KerasTensor
    ):
        inputs = type(model.input)([inputs])  # a model built on [input]
    clone = keras.models.clone_model(
        model,
        input_tensors=inputs,
        clone_function=lambda layer: layer,
        call_function=call,
    )
    return clone.inputs, clone.outputs[0]


def inline_nested(model):
    """A functional model computing `model` with its nested functional and
    sequential models expanded into one graph, and the path of each tensor.

    The layers are `model`'s own (weights shared); no layer runs twice.
    Graph analyses (`find_cuts`, the layer-pair proposal) read the inlined
    graph; the paths name each tensor as `build_view` taps it.

    Returns:
        `(flat_model, paths)`: `paths` maps `id(tensor)` of each tensor of
        the flat graph to its layer path (`"backbone/block1_out"`). A model
        without nested models is returned as it is, with no paths (its
        tensors are named by their layers).
    """
    paths = {}

    def caller(prefix):
        def call(layer, *args, **kwargs):
            if is_graph_model(layer):
                _, output = trace(
                    layer, caller(f"{prefix}{layer.name}/"), args[0]
                )
            else:
                output = layer(*args, **kwargs)
            if isinstance(output, keras.KerasTensor):
                paths.setdefault(id(output), f"{prefix}{layer.name}")
            return output

        return call

    if not any(is_graph_model(layer) for layer in model.layers):
        return model, paths
    inputs, output = trace(model, caller(""))
    return keras.Model(inputs, output, name=f"{model.name}_inlined"), paths


def is_graph_model(model):
    """Whether the model is functional or sequential (has a layer graph)."""
    return isinstance(model, keras.Model) and _has_graph(model)


def _has_graph(model):
    try:
        return bool(model.inputs) and bool(model.outputs)
    except (AttributeError, ValueError):
        return False
