"""Detect whether a classifier outputs logits or probabilities."""

import numpy as np
from keras import ops

from kd_toolkit.utils import compat

LOGITS = "logits"
PROBABILITIES = "probabilities"
_CHOICES = ("auto", LOGITS, PROBABILITIES)


def _output_layer(model):
    try:
        return compat.producing_layer(model.outputs[0])
    except (AttributeError, IndexError, TypeError, ValueError):
        return None


def _layer_applies_softmax(layer):
    if layer is None:
        return False
    if type(layer).__name__ == "Softmax":
        return True
    try:
        activation = layer.get_config().get("activation")
    except NotImplementedError:
        return False
    if isinstance(activation, dict):
        activation = activation.get("config", {}).get("name", activation)
    return activation == "softmax"


def _probe(model, input_shape):
    """Runs the model on random inputs; True if rows look like softmax."""
    if input_shape is None or any(d is None for d in input_shape):
        return None
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4,) + tuple(input_shape)).astype("float32")
    y = np.asarray(model(x, training=False), dtype="float64")
    return bool(
        np.all(y >= 0)
        and np.all(y <= 1)
        and np.allclose(y.sum(axis=-1), 1.0, atol=1e-3)
    )


def detect_output_kind(
    model, declared="auto", role="student", input_shape=None
):
    """Returns `"logits"` or `"probabilities"` for a classifier.

    The output layer is inspected (a softmax activation means
    probabilities); when that is inconclusive the model is run once on random
    inputs and rows that are non-negative and sum to one are taken as
    probabilities.

    Args:
        model: the classifier.
        declared: `"auto"`, `"logits"` or `"probabilities"`.
        role: `"teacher"` or `"student"`, used in messages.
        input_shape: per-example input shape for the probe run; `None`
            skips the probe.

    Raises:
        ValueError: if `declared` is not a valid choice, or contradicts what
            the model computes.
    """
    arg = f"{role}_outputs"
    if declared not in _CHOICES:
        raise ValueError(
            f"`{arg}` must be one of {list(_CHOICES)}. "
            f"Received: {arg}={declared!r}"
        )
    layer = _output_layer(model)
    detected = PROBABILITIES if _layer_applies_softmax(layer) else None
    if detected is None:
        probe = _probe(model, input_shape)
        if probe is not None:
            detected = PROBABILITIES if probe else LOGITS
    if declared == "auto":
        return detected or LOGITS
    if detected is not None and detected != declared:
        where = "output" if layer is None else f"output layer '{layer.name}'"
        raise ValueError(
            f"`{arg}` says the {role} outputs {declared}, but its {where} "
            f"computes {detected}. Pass {arg}='{detected}' or 'auto'. "
            f"Received: {arg}={declared!r}"
        )
    return declared


def to_logits(output, kind):
    """A model's output as float32 logits: unchanged for `LOGITS`, the log
    of the (clipped) probabilities for `PROBABILITIES` (log-probabilities
    are logits up to a per-sample constant, which softmax ignores)."""
    output = ops.cast(output, "float32")
    if kind == PROBABILITIES:
        return ops.log(ops.clip(output, 1e-12, 1.0))
    return output


def one_hot_labels(y, num_classes):
    """Integer labels `(batch,)` or `(batch, 1)` as float32 one-hot
    `(batch, num_classes)`; one-hot or soft targets pass through as float32.
    """
    if len(y.shape) == 2 and y.shape[-1] == num_classes:
        return ops.cast(y, "float32")
    return ops.one_hot(ops.reshape(ops.cast(y, "int32"), [-1]), num_classes)
