"""What `Distiller.fit` checks and prepares before Keras's `fit` runs, and
checks after it: inputs, labels and weights, the teacher's accuracy, the
resume point of a backup, and that a training step ran."""

import collections
import warnings

import keras
import tensorflow as tf

from kd_toolkit.distiller import input_check
from kd_toolkit.distiller import label_check
from kd_toolkit.distiller import teacher_check
from kd_toolkit.distiller.callbacks import StopOnNonFiniteLoss
from kd_toolkit.distiller.resume import BackupAndRestore
from kd_toolkit.distiller.resume import replay_epochs

# What `fit` runs with: the (label-checked) data, the callbacks (with
# `StopOnNonFiniteLoss` and a `BatchCounter` added), the epoch a backup
# resumes in (0 without one) and the batches of that epoch to read past.
Prepared = collections.namedtuple(
    "Prepared",
    ["x", "y", "validation_data", "callbacks", "resume_epoch", "skip_batches"],
)


class BatchCounter(keras.callbacks.Callback):
    """Counts the training batches one `fit` runs."""

    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


def checked_labels(distiller, x, y, arg):
    """`(x, y)` with label range checks that also hold under XLA."""
    if isinstance(x, tf.data.Dataset):
        return label_check.checked_dataset(x, distiller.num_classes), y
    if y is not None and not isinstance(y, (tf.Tensor, dict)):
        label_check.check_array_labels(y, distiller.num_classes, arg)
    return x, y


def prepare(distiller, x, y, validation_data, callbacks, fit_kwargs):
    """Checks `fit`'s arguments and positions a resumed run.

    Raises:
        ValueError: on inputs the student cannot take, labels out of range,
            bad sample or class weights (each naming the argument).
    """
    callbacks = list(callbacks or [])
    if distiller.stop_on_nonfinite_loss and not any(
        isinstance(c, StopOnNonFiniteLoss) for c in callbacks
    ):
        callbacks.append(StopOnNonFiniteLoss())
    input_check.check_inputs(x, y, distiller)
    x, y = checked_labels(distiller, x, y, "y")
    label_check.check_array_weights(fit_kwargs.get("sample_weight"))
    label_check.check_class_weight(fit_kwargs.get("class_weight"))
    validation_data = _checked_validation(distiller, validation_data)
    if distiller.check_teacher and validation_data is not None:
        teacher_check.warn_if_near_chance(distiller, validation_data)
    initial_epoch = fit_kwargs.get("initial_epoch", 0)
    resume_epoch, skip = _resume_point(distiller, x, callbacks, initial_epoch)
    return Prepared(
        x, y, validation_data, callbacks + [BatchCounter()], resume_epoch, skip
    )


def check_trained(prepared, fit_args, fit_kwargs):
    """Refuses a `fit` that ran no training step on empty data."""
    counter = prepared.callbacks[-1]
    epochs = fit_kwargs.get("epochs", fit_args[1] if len(fit_args) > 1 else 1)
    initial_epoch = fit_kwargs.get("initial_epoch", 0)
    if counter.batches == 0 and epochs > max(
        initial_epoch, prepared.resume_epoch
    ):
        raise ValueError(
            "`fit` ran no training step: the training data is empty. "
            f"Received: x={_describe_data(prepared.x)}"
        )


def _checked_validation(distiller, validation_data):
    if isinstance(validation_data, tf.data.Dataset):
        validation_data, _ = checked_labels(
            distiller, validation_data, None, "validation labels"
        )
    elif (
        isinstance(validation_data, (tuple, list)) and len(validation_data) >= 2
    ):
        label_check.check_array_labels(
            validation_data[1], distiller.num_classes, "validation_data[1]"
        )
        if len(validation_data) == 3:
            label_check.check_array_weights(
                validation_data[2], "validation_data[2]"
            )
    return validation_data


def _resume_point(model, x, callbacks, initial_epoch):
    """`(epoch, batches done)` a backup resumes at (`(0, 0)` without one),
    with a `tf.data` input brought to that epoch."""
    for c in callbacks:
        if (
            type(c) is keras.callbacks.BackupAndRestore
            and c.save_freq != "epoch"
        ):
            warnings.warn(
                "keras.callbacks.BackupAndRestore restarts an interrupted "
                "epoch from its first batch, training twice on the "
                "batches before the backup; "
                "kd_toolkit.callbacks.BackupAndRestore resumes after "
                "them.",
                stacklevel=4,
            )
    backups = [c for c in callbacks if isinstance(c, BackupAndRestore)]
    if not backups:
        return 0, 0
    epoch, batches_done = backups[0].resume_point()
    if isinstance(x, tf.data.Dataset):
        replay_epochs(model, x, max(0, epoch - initial_epoch))
    return epoch, batches_done


def _describe_data(x):
    if isinstance(x, tf.data.Dataset):
        return f"a tf.data.Dataset of {int(x.cardinality())} batches"
    shape = getattr(x, "shape", None)
    if shape is not None:
        return f"{type(x).__name__} of shape {shape}"
    return type(x).__name__
