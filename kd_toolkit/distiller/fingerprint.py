"""Fingerprints of models: what a backup or a cache was made from.

Two kinds, for two questions:

- `weights_digest`: has anything in these weights changed? SHA-256 of
  every weight's shape, dtype and bytes, in order. A teacher retrained or
  loaded from another file gets another digest.
- `architecture_digest`: is this the same kind of network? SHA-256 of the
  layer classes and weight shapes, in order, without layer names: Keras
  names auto-named layers by a per-process counter (`dense_3`), so the same
  script builds the same network under other names in another process.
"""

import hashlib
import json

import numpy as np

from kd_toolkit.utils import compat


def weights_digest(weights):
    """SHA-256 (hex) of a list of variables' shapes, dtypes and values."""
    digest = hashlib.sha256()
    for weight in weights:
        value = np.ascontiguousarray(np.asarray(weight.numpy()))
        digest.update(f"{value.shape}{value.dtype}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def frozen_weights(model):
    """The weights of `model` that training never changes: those of every
    layer set `trainable=False` (the whole of a frozen teacher; the original
    layers of an adapted one, not its adapters)."""
    if not model.trainable:
        return list(model.weights)
    seen, out = set(), []
    for layer in compat.flatten_layers(model, include_self=False):
        if layer.trainable:
            continue
        for weight in layer.weights:
            if id(weight) not in seen:
                seen.add(id(weight))
                out.append(weight)
    return out


def architecture_digest(model):
    """SHA-256 (hex) of a model's layer classes and weight shapes."""
    layers = [
        type(layer).__name__
        for layer in compat.flatten_layers(model, include_self=False)
    ]
    shapes = [list(w.shape) for w in model.weights]
    text = json.dumps({"layers": layers, "weights": shapes})
    return hashlib.sha256(text.encode()).hexdigest()


def config_digest(config):
    """SHA-256 (hex) of a JSON-serialisable config (keys sorted)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def run_fingerprint(teacher, student, losses):
    """What a `BackupAndRestore` backup of a distillation run must match.

    A backup holds the teacher's weights too: restoring one made for
    another teacher would silently distil from the old one. The
    fingerprint names what makes two runs the same: the teacher's frozen
    weights, the student's architecture and the losses.

    Returns:
        A dict of str digests, `{"teacher", "student", "losses"}`.
    """
    return {
        "teacher": weights_digest(frozen_weights(teacher)),
        "student": architecture_digest(student),
        "losses": config_digest(
            [[type(loss).__name__, loss.get_config()] for loss in losses]
        ),
    }
