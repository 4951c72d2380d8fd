"""Backup and exact resume of an interrupted distillation run."""

import json
import os
import pathlib

import keras

from kd_toolkit.distiller import fingerprint
from kd_toolkit.utils import compat
from kd_toolkit.utils.atomic_io import atomic_save_weights
from kd_toolkit.utils.atomic_io import atomic_write_text


class BackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras's `BackupAndRestore`, resuming to the exact batch.

    Keras's callback restores the weights and the optimizer state, then
    restarts the interrupted epoch from its first batch: after a mid-epoch
    interruption, the batches seen before the backup are trained on twice.
    With a `Distiller`, this callback resumes *after* the last backed-up
    batch, so an interrupted and resumed run ends with the weights of an
    uninterrupted one (same seed; tested to float32 round-off):

    - the backup holds everything that trains: the student, the trainable
      parts of the losses (connectors, AMA adapters and the adapted
      teacher), the optimizer state and its step counter;
    - `Distiller.fit` brings a `tf.data` input to the interrupted epoch
      (`replay_epochs`) and reads past the finished batches of that epoch
      without training on them.

    Exactness needs the data of each epoch to follow from the seed alone:
    a `tf.data` pipeline seeded once (`shuffle(seed=...)`,
    `Dataset.random(seed=...)`, stateless random ops), built afresh in the
    resuming process, like `kd_toolkit.data.batching.build` and
    `TeacherLogitsCache.dataset`, with `steps_per_epoch=None`. `tf.data`
    mixes TensorFlow's global seed into a pipeline's seeds when it is
    built: call `keras.utils.set_random_seed` just before building it. Such a
    pipeline draws new seeds each time an iterator is created over it, so
    resuming replays the iterator creations of the finished epochs (reading
    their batches, about one pass of the input pipeline per epoch, without
    training). NumPy inputs, which Keras shuffles itself, resume at the
    right step with a different order.

    Files are written atomically; the weights and their metadata are
    cross-checked on restore, so a backup cut in half is refused instead
    of resumed from the wrong step.

    Args:
        backup_dir: str or `os.PathLike`. Directory for the backup; created
            when first written.
        save_freq: `"epoch"` or int >= 1. Back up at the end of each epoch,
            or every `save_freq` batches.
        delete_checkpoint: bool. Delete the backup once training finishes.

    Raises:
        ValueError: on a bad `save_freq`, or when restoring a backup whose
            weights and metadata disagree.

    Example:

    ```python
    backup = kd.callbacks.BackupAndRestore("runs/backup", save_freq=100)
    distiller.fit(train_ds, epochs=30, callbacks=[backup])
    # After an interruption, run the same script again: training goes on
    # from the batch after the last backup.
    ```
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        if save_freq != "epoch" and (
            isinstance(save_freq, bool)
            or not isinstance(save_freq, int)
            or save_freq < 1
        ):
            raise ValueError(
                "`save_freq` must be 'epoch' or an integer >= 1. "
                f"Received: save_freq={save_freq!r}"
            )
        super().__init__(
            os.fspath(backup_dir),
            save_freq=save_freq,
            delete_checkpoint=delete_checkpoint,
        )
        self._batches_done = 0

    def resume_point(self):
        """Where training resumes, read from the backup's metadata.

        Returns:
            `(epoch, batches_done)`: the 0-based epoch to resume and how
            many of its batches were already trained; `(0, 0)` when there
            is no backup.
        """
        path = pathlib.Path(self._training_metadata_path)
        meta = _read_metadata(path, self.backup_dir)
        if meta is None:
            return 0, 0
        return int(meta["epoch"]), int(meta.get("batches_done", 0))

    def on_epoch_begin(self, epoch, logs=None):
        # Keras's callback learns the epoch only at its end, so a resumed
        # run would back up mid-epoch under epoch 0.
        self._current_epoch = epoch
        self._batches_done = 0

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the last batch index the step ran (several per call
        # with `steps_per_execution` > 1).
        self._batches_done = batch + 1
        super().on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._batches_done = 0
        super().on_epoch_end(epoch, logs)

    def on_train_begin(self, logs=None):
        # Taken before the backup is restored: what the user passed in.
        self._fingerprint = run_fingerprint(self.model)
        super().on_train_begin(logs)

    def _load_model(self):
        path = pathlib.Path(self._training_metadata_path)
        meta = _read_metadata(path, self.backup_dir)
        if meta is not None and "fingerprint" in meta:
            _check_fingerprint(meta["fingerprint"], self._fingerprint, self)
        try:
            super()._load_model()
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValueError(
                f"The backup in {self.backup_dir!r} cannot be restored into "
                f"this model ({type(error).__name__}: {str(error)[:200]}): "
                "it is truncated, or was made for another model. Delete the "
                "directory to start over, or run the model it was made "
                f"for. Received: backup_dir={self.backup_dir!r}"
            ) from error
        if meta is None:
            return
        saved = meta.get("iterations")
        restored = int(self.model.optimizer.iterations.numpy())
        if saved is not None and saved != restored:
            raise ValueError(
                f"The backup in {self.backup_dir!r} is inconsistent: its "
                f"weights are at optimizer step {restored} but its metadata "
                f"at step {saved} (interrupted while saving?). Delete the "
                "directory to start over."
            )

    def _save_model(self):
        directory = pathlib.Path(self.backup_dir)
        directory.mkdir(parents=True, exist_ok=True)
        atomic_save_weights(self.model, self._weights_path)
        meta = {
            # Keras's keys, so its own callback can read this backup too.
            "epoch": self._current_epoch,
            "batch": self._last_batch_seen,
            "batches_done": self._batches_done,
            "iterations": int(self.model.optimizer.iterations.numpy()),
            "fingerprint": self._fingerprint,
        }
        atomic_write_text(
            self._training_metadata_path, json.dumps(meta), overwrite=True
        )


def run_fingerprint(model):
    """What a backup of `model`'s run must match: for a `Distiller`, its
    `backup_fingerprint()` (teacher weights, student architecture, losses);
    for another model, its architecture."""
    from kd_toolkit.distiller.distiller import Distiller

    if isinstance(model, Distiller):
        return model.backup_fingerprint()
    return {"model": fingerprint.architecture_digest(model)}


_WHAT = {
    "teacher": "the teacher's weights differ (another teacher, or the same "
    "one retrained): resuming would load the backup's teacher into this run",
    "student": "the student's architecture differs",
    "losses": "the distillation losses or their settings differ",
    "model": "the model's architecture differs",
}


def _check_fingerprint(saved, current, callback):
    """Refuses a backup whose fingerprint differs from this run's."""
    diffs = [
        f"{_WHAT.get(k, k)} (backup {str(saved.get(k))[:12]}, this run "
        f"{str(current.get(k))[:12]})"
        for k in sorted(set(saved) | set(current))
        if saved.get(k) != current.get(k)
    ]
    if diffs:
        raise ValueError(
            f"The backup in {callback.backup_dir!r} was made for another "
            f"run: {'; '.join(diffs)}. Delete the directory to start over, "
            "or resume with the models and losses it was made for. "
            f"Received: backup_dir={callback.backup_dir!r}"
        )


def _read_metadata(path, backup_dir):
    """The backup's metadata, or None without one; unreadable metadata is
    a clear error."""
    if not path.exists():
        return None
    try:
        meta = json.loads(path.read_text())
        int(meta["epoch"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise ValueError(
            f"The backup in {backup_dir!r} has unreadable metadata "
            f"({path.name}: {type(error).__name__}): it is truncated or not "
            "a kd_toolkit backup. Delete the directory to start over. "
            f"Received: backup_dir={backup_dir!r}"
        ) from error
    return meta


def replay_epochs(model, dataset, epochs):
    """Brings a seeded `tf.data` input to where `fit` had it after `epochs`.

    Keras creates one or two iterators over the data per epoch (Keras 3's
    `EpochIterator` opens the next epoch's iterator as each one ends), and
    each creation draws the pipeline's next shuffle and augmentation seeds.
    This runs Keras's own epoch iterator over `epochs` epochs, reading the
    batches without training, so the next `fit` on `dataset` sees the order
    and views the uninterrupted run saw in the following epoch.

    Args:
        model: the `keras.Model` that will `fit` on `dataset` (its
            distribution strategy and `steps_per_execution` are used).
        dataset: `tf.data.Dataset`, as it will be passed to `fit`.
        epochs: int >= 0. Epochs to replay.
    """
    iterator = compat.epoch_iterator(dataset, model)
    iterator.reset()
    for _ in range(epochs):
        with iterator.catch_stop_iteration():
            for _, _, batches in iterator:
                for _ in range(model.steps_per_execution):
                    next(batches)


def skipping_batches(model, train_function):
    """`train_function` that first reads past `model._batches_to_skip`
    batches without training on them (those of the resumed epoch that the
    backup already trained on), then trains as before."""

    def train_or_skip(iterator):
        if model._batches_to_skip <= 0:
            return train_function(iterator)
        # One call covers `steps_per_execution` batches.
        for _ in range(model.steps_per_execution):
            next(iterator)
        model._batches_to_skip -= model.steps_per_execution
        return {}

    return train_or_skip
