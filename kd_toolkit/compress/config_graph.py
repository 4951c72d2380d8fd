"""The layer graph of a functional or sequential model, read from its config.

Both Keras 3 and `tf_keras` describe a functional model in `get_config()`:
each layer's class, config and inbound nodes, and the model's input and
output tensors. They differ in how a node names its inputs (Keras 3 nests
`__keras_tensor__` records in the call's `args`/`kwargs`; `tf_keras` lists
`[layer, node, tensor, kwargs]` entries). `read_graph` turns either into the
same plain description, which `tf_keras_bridge` rebuilds in the other Keras.
"""

import dataclasses

import keras


@dataclasses.dataclass(frozen=True)
class TensorRef:
    """Output `tensor` of call `node` of layer `layer`."""

    layer: str
    node: int
    tensor: int


@dataclasses.dataclass(frozen=True)
class LayerCall:
    """One call of a layer: arguments with `TensorRef`s in place of tensors.

    Args:
        layer: str. Name of the called layer.
        node: int. Index of this call among the layer's calls.
        args: list. Positional arguments (a list of refs for `Add`).
        kwargs: dict. Keyword arguments.
    """

    layer: str
    node: int
    args: list
    kwargs: dict

    def refs(self):
        """Every `TensorRef` the call reads."""
        return _flatten_refs([self.args, self.kwargs])


@dataclasses.dataclass(frozen=True)
class ModelGraph:
    """A model as layer specs, calls in source order, inputs and outputs.

    Args:
        name: str. Model name.
        layers: list of dicts with `name`, `class_name` and `config`.
        calls: list of `LayerCall`.
        inputs: list of `TensorRef` (the input layers' outputs).
        outputs: list of `TensorRef`.
    """

    name: str
    layers: list
    calls: list
    inputs: list
    outputs: list


def read_graph(model):
    """Reads the layer graph of a Keras 3 or `tf_keras` model.

    Args:
        model: a functional or sequential model of either Keras.

    Returns:
        `ModelGraph`.

    Raises:
        ValueError: if the model has no graph (a subclassed model).
    """
    no_graph = ValueError(
        f"Model '{model.name}' has no layer graph: only functional and "
        "sequential models can be rebuilt. Received: a subclassed model of "
        f"type {type(model).__name__}"
    )
    try:
        config = model.get_config()
    except NotImplementedError as error:
        raise no_graph from error
    if not isinstance(config, dict) or "layers" not in config:
        raise no_graph
    if "input_layers" not in config:
        return _sequential_graph(model, config)
    calls = []
    for layer in config["layers"]:
        for index, node in enumerate(layer["inbound_nodes"]):
            calls.append(_call(layer["name"], index, node))
    return ModelGraph(
        model.name,
        config["layers"],
        calls,
        _ref_list(config["input_layers"]),
        _ref_list(config["output_layers"]),
    )


def _call(name, index, node):
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        return LayerCall(
            name,
            index,
            _keras3_refs(node["args"]),
            _keras3_refs(node["kwargs"]),
        )
    # tf_keras: [[layer, node, tensor, kwargs], ...], one entry per input.
    refs = [TensorRef(*entry[:3]) for entry in node]
    kwargs = dict(node[0][3]) if len(node[0]) > 3 else {}
    return LayerCall(
        name, index, [refs[0]] if len(refs) == 1 else [refs], kwargs
    )


def _keras3_refs(obj):
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            return TensorRef(*obj["config"]["keras_history"])
        return {k: _keras3_refs(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_keras3_refs(v) for v in obj]
    return obj


def _sequential_graph(model, config):
    layers = [dict(c, name=c["config"]["name"]) for c in config["layers"]]
    if not layers or layers[0]["class_name"] != "InputLayer":
        name = f"{model.name}_input"
        layers.insert(
            0,
            {
                "name": name,
                "class_name": "InputLayer",
                "config": {
                    "batch_shape": tuple(model.inputs[0].shape),
                    "name": name,
                    "dtype": keras.backend.standardize_dtype(
                        model.inputs[0].dtype
                    ),
                },
            },
        )
    calls, previous = [], TensorRef(layers[0]["name"], 0, 0)
    for layer in layers[1:]:
        calls.append(LayerCall(layer["name"], 0, [previous], {}))
        previous = TensorRef(layer["name"], 0, 0)
    return ModelGraph(
        model.name,
        layers,
        calls,
        [TensorRef(layers[0]["name"], 0, 0)],
        [previous],
    )


def _ref_list(entries):
    if entries and not isinstance(entries[0], (list, tuple)):
        entries = [entries]
    return [TensorRef(*entry) for entry in entries]


def _flatten_refs(obj):
    if isinstance(obj, TensorRef):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        return [r for v in obj for r in _flatten_refs(v)]
    return []
