"""Translate a serialized layer config from one Keras to the other.

Keras 3 and `tf_keras` layers take nearly the same constructor arguments;
the differences the bridge handles:

- dtype policies: a Keras 3 `DTypePolicy` record or a `tf_keras` `Policy`
  record becomes its policy name (`"float32"`, `"mixed_float16"`);
  quantized Keras 3 policies are refused;
- initializers, regularizers and constraints are rebuilt in the target Keras
  from their class name and arguments (arguments one Keras lacks are
  dropped only at their neutral value, e.g. Keras 3's `input_axes=None`);
- arguments only one Keras has are dropped at their neutral value
  (`quantization_config=None`, `lora_rank=None`, `groups=1`, ...) and
  refused otherwise;
- a built `tf_keras` BatchNormalization stores `axis=[3]`; Keras 3 takes an
  int;
- `Identity` becomes `Activation("linear")` of the same name: tfmot's
  quantization registry knows `Activation`, and it computes the same thing;
- activations `tf_keras` lacks (`hard_silu`, MobileNetV3's hard-swish) are
  registered there under their Keras 3 name;
- `keras.ops` calls stored as op nodes (`x + 3.0`) become layers
  (`op_nodes`);
- a `tf_keras` BatchNormalization is built with `fused=False`: it then
  computes `x · γ/√(σ²+ε) + (β − μ · γ/√(σ²+ε))` exactly like Keras 3, so
  the two models agree to the last bit (the fused kernel rounds
  differently: 5e-4 apart on a random resnet110 with logits near 1e3).
"""

import inspect

import keras

SUPPORTED_LAYERS = (
    "InputLayer",
    "Conv2D",
    "DepthwiseConv2D",
    "SeparableConv2D",
    "Dense",
    "BatchNormalization",
    "Activation",
    "ReLU",
    "Softmax",
    "Add",
    "Subtract",
    "Multiply",
    "Concatenate",
    "Rescaling",
    "Normalization",
    "Cropping2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "ZeroPadding2D",
    "Reshape",
    "Flatten",
    "Dropout",
    "Identity",
)
# Arguments one Keras has and the other lacks, with the values that mean
# "feature unused" and may therefore be dropped.
_NEUTRAL_VALUES = {
    "quantization_config": (None,),
    "lora_rank": (None,),
    "lora_alpha": (None,),
    "groups": (1,),
    "optional": (False,),
    "input_axes": (None,),
    "output_axes": (None,),
    # tf_keras's SeparableConv2D inherits these but never uses them.
    "kernel_regularizer": (None,),
    "kernel_constraint": (None,),
}
# Initializers the target layer does not take are unused there: the weights
# are copied anyway.
_UNUSED_INITIALIZERS = ("kernel_initializer",)
_OBJECT_KINDS = {
    "_initializer": "initializers",
    "_regularizer": "regularizers",
    "_constraint": "constraints",
}


class UnsupportedLayerError(ValueError):
    """Raised when a model holds layers the bridge cannot rebuild."""


def translate_layer(layer, module, target_name):
    """Returns the target layer class and constructor kwargs of one layer.

    Args:
        layer: dict with `class_name` and `config` (a `get_config()` entry).
        module: the target Keras module (`keras` or `tf_keras`).
        target_name: str. `"keras"` or `"tf_keras"`, for messages.

    Returns:
        `(cls, kwargs)`; `cls` is None for an `InputLayer`, whose kwargs go
        to `module.Input`.

    Raises:
        UnsupportedLayerError: for a layer type outside `SUPPORTED_LAYERS`
            or an argument without an equivalent in the target Keras.
    """
    class_name, config = layer["class_name"], dict(layer["config"])
    if class_name not in SUPPORTED_LAYERS:
        raise UnsupportedLayerError("layer type not supported")
    if class_name == "InputLayer":
        shape = config.get("batch_shape") or config.get("batch_input_shape")
        return None, {
            "batch_shape": tuple(shape),
            "name": config["name"],
            "dtype": _dtype_name(config.get("dtype", "float32")),
        }
    if class_name == "Identity":
        class_name = "Activation"
        config = {
            "name": config["name"],
            "activation": "linear",
            "trainable": config.get("trainable", True),
            "dtype": config.get("dtype"),
        }
    cls = getattr(module.layers, class_name)
    accepted = init_params(cls) | {"name", "trainable", "dtype"}
    kwargs = {}
    for key, value in config.items():
        if key not in accepted:
            if (
                value in _NEUTRAL_VALUES.get(key, ())
                or key in _UNUSED_INITIALIZERS
            ):
                continue
            raise UnsupportedLayerError(
                f"argument {key}={value!r} has no {target_name} equivalent"
            )
        kwargs[key] = _translate_value(key, value, module, target_name)
    if class_name == "BatchNormalization" and "fused" in accepted:
        kwargs["fused"] = False
    return cls, kwargs


def hard_silu(x):
    """`x · relu6(x + 3) / 6`, Keras 3's `hard_silu` (MobileNetV3's
    hard-swish), for `tf_keras`, which lacks it."""
    import tensorflow as tf

    return x * tf.nn.relu6(x + 3.0) * (1.0 / 6.0)


# Keras 3 activations `tf_keras` lacks, registered there under the same
# name when a model needs them (so they also translate back by name).
MISSING_ACTIVATIONS = {"hard_silu": hard_silu, "hard_swish": hard_silu}


def _register_activation(module, name):
    function = MISSING_ACTIVATIONS.get(name)
    if function is None or not hasattr(module.utils, "get_custom_objects"):
        return False
    module.utils.get_custom_objects()[name] = function
    module.activations.get(name)  # resolvable now
    return True


def init_params(cls):
    """Names of the explicit constructor parameters of `cls` and its bases."""
    names = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            for p in inspect.signature(klass.__init__).parameters.values():
                if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                    names.add(p.name)
    return names - {"self"}


def _translate_value(key, value, module, target_name):
    if key == "dtype":
        return _dtype_name(value)
    if key == "axis" and isinstance(value, (list, tuple)) and len(value) == 1:
        return int(value[0])
    if key == "activation":
        if (
            isinstance(value, dict)
            and value.get("class_name") == "function"
            and value.get("config") in MISSING_ACTIVATIONS
        ):
            value = value["config"]  # one `_register_activation` made
        if not isinstance(value, str):
            raise UnsupportedLayerError(
                f"custom activation {value!r}; only named ones are supported"
            )
        try:
            module.activations.get(value)
        except ValueError as error:
            if not _register_activation(module, value):
                raise UnsupportedLayerError(
                    f"activation {value!r} unknown to {target_name}"
                ) from error
        return value
    for suffix, kind in _OBJECT_KINDS.items():
        if key.endswith(suffix) and isinstance(value, dict):
            return _translate_object(
                key, value, getattr(module, kind), target_name
            )
    return value


def _translate_object(key, value, kind_module, target_name):
    """Rebuilds a serialized initializer/regularizer/constraint."""
    cls = getattr(kind_module, value.get("class_name", ""), None)
    if cls is None:
        raise UnsupportedLayerError(
            f"{key} of class {value.get('class_name')!r} unknown to "
            f"{target_name}"
        )
    accepted = init_params(cls)
    kwargs = {}
    for name, arg in (value.get("config") or {}).items():
        if name in accepted:
            kwargs[name] = arg
        elif arg not in _NEUTRAL_VALUES.get(name, ()):
            raise UnsupportedLayerError(
                f"{key} argument {name}={arg!r} has no {target_name} equivalent"
            )
    return cls(**kwargs)


def _dtype_name(value):
    if isinstance(value, dict):
        if "quantized" in value.get("class_name", "").lower():
            raise UnsupportedLayerError(
                f"quantized dtype policy {value['config']}"
            )
        return value["config"]["name"]
    if value is None or isinstance(value, str):
        return value
    return keras.backend.standardize_dtype(value)
