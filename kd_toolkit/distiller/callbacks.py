"""Callbacks that guard a distillation run."""

import math

import keras
import numpy as np

from kd_toolkit.utils.atomic_io import atomic_save_model


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops training with a clear error when any loss term is NaN or inf.

    Keras's `TerminateOnNaN` stops quietly; this callback raises a
    `FloatingPointError` that names the offending terms, the epoch and the
    batch, so a diverged run cannot be mistaken for a finished one. It says
    where the fault most likely lies: when the student's hard-label term is
    still finite but a distillation term is not, the teacher's outputs (or
    that term) are to blame, not the learning rate.

    The step that produced the non-finite loss has already updated the
    weights. The callback keeps a copy of what trains (for a `Distiller`,
    the student and the trainable loss parts) from the start of each epoch
    and, if the weights are no longer finite, restores it, so the model is
    left as it was at the start of the failing epoch (the optimizer state
    is not restored). The message says which.

    Raises:
        FloatingPointError: at the first batch whose logs hold a non-finite
            loss term.
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0
        self._snapshot = None

    def _guarded(self):
        """The variables a non-finite step can poison: what trains, and
        the student's moving statistics."""
        from kd_toolkit.distiller.distiller import Distiller

        model = self.model
        variables = list(model.trainable_variables)
        if isinstance(model, Distiller):
            variables += list(model.student.non_trainable_variables)
        else:
            variables += list(model.non_trainable_variables)
        seen, out = set(), []
        for v in variables:
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        return out

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._snapshot = [(v, np.array(v.numpy())) for v in self._guarded()]

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        values = {
            k: float(v)
            for k, v in logs.items()
            if k == "loss" or k.endswith("_loss")
        }
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        if not bad:
            return
        finite = {k: v for k, v in values.items() if k not in bad}
        if "student_loss" in finite and any(
            k not in ("loss", "student_loss") for k in bad
        ):
            cause = (
                "The student's hard-label term (student_loss) is finite: "
                "the teacher's outputs (or a distillation term) are not "
                "finite for this batch. Check the teacher on these inputs "
                "(its weights, its preprocessing)."
            )
        else:
            cause = (
                "Lower the learning rate or the loss weights, or check the "
                "inputs for NaN/inf."
            )
        raise FloatingPointError(
            f"Non-finite loss at epoch {self._epoch + 1}, batch {batch}: "
            f"{bad} (finite terms: {finite}). {cause} {self._restore()}"
        )

    def _restore(self):
        """Restores the epoch-start weights if the step poisoned them;
        returns the sentence that says what happened to the weights."""
        poisoned = [
            v.path
            for v, _ in self._snapshot or ()
            if not np.isfinite(v.numpy()).all()
        ]
        if not poisoned:
            return "The weights are still finite."
        for variable, value in self._snapshot:
            variable.assign(value)
        return (
            f"The step made {len(poisoned)} weights non-finite (e.g. "
            f"{poisoned[0]}); they were restored to their values at the "
            f"start of epoch {self._epoch + 1} (the optimizer state was "
            "not)."
        )


class BestStudentCheckpoint(keras.callbacks.Callback):
    """Saves the student (only the student) whenever a metric improves.

    `keras.callbacks.ModelCheckpoint` on a `Distiller` saves the whole
    distiller, teacher included; what ships is the student. This callback
    writes `model.student` to a `.keras` file atomically (a crash never
    leaves a half-written file) at the end of each epoch whose `monitor`
    value beats the best so far.

    Args:
        path: str or path-like ending in `.keras`.
        monitor: str. A key of the epoch logs. Defaults to `"val_accuracy"`.
        mode: `"max"` or `"min"`. Defaults to `"max"`.

    Raises:
        ValueError: for a bad `path` or `mode`; at the end of an epoch, if
            `monitor` is not in the logs (the message lists the keys).

    Example:

    ```python
    distiller.fit(train_ds, validation_data=test_ds, epochs=30, callbacks=[
        kd_toolkit.distiller.BestStudentCheckpoint("runs/best.keras")])
    ```
    """

    def __init__(self, path, monitor="val_accuracy", mode="max"):
        super().__init__()
        if not str(path).endswith(".keras"):
            raise ValueError(
                f"`path` must end in '.keras'. Received: path={str(path)!r}"
            )
        if mode not in ("max", "min"):
            raise ValueError(
                f"`mode` must be one of ['max', 'min']. Received: mode={mode!r}"
            )
        self.path = path
        self.monitor = monitor
        self.mode = mode
        self.best = None
        self.best_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise ValueError(
                f"`monitor` is not in the epoch logs. Expected one of "
                f"{sorted(logs)}. Received: monitor={self.monitor!r}"
            )
        value = float(logs[self.monitor])
        better = self.best is None or (
            value > self.best if self.mode == "max" else value < self.best
        )
        if better:
            self.best, self.best_epoch = value, epoch
            atomic_save_model(self.model.student, self.path, overwrite=True)
