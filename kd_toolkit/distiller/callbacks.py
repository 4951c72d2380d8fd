"""Callbacks that guard a distillation run."""

import math

import keras


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops training with a clear error when any loss term is NaN or inf.

    Keras's `TerminateOnNaN` stops quietly; this callback raises a
    `FloatingPointError` that names the offending terms, the epoch and the
    batch, so a diverged run cannot be mistaken for a finished one.

    Raises:
        FloatingPointError: at the first batch whose logs hold a non-finite
            loss term.
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        values = {k: float(v) for k, v in logs.items()
                  if k == "loss" or k.endswith("_loss")}
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        if bad:
            finite = {k: v for k, v in values.items() if k not in bad}
            raise FloatingPointError(
                f"Non-finite loss at epoch {self._epoch + 1}, batch {batch}: "
                f"{bad} (finite terms: {finite}). Lower the learning rate or "
                "the loss weights, or check the inputs for NaN/inf.")
