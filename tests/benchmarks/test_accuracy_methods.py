"""An interrupted benchmark run goes on from its last finished epoch."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import kd_toolkit as kd
from benchmarks import accuracy_methods as am


class _Interrupt(Exception):
    pass


class _InterruptAfterEpoch(keras.callbacks.Callback):
    """Stands for a killed process: raises at the end of one epoch, after
    the recorder and the backup have saved it."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise _Interrupt()


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(3)]
    )
    model.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return model


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4, 4, 1)).astype("float32")
    y = rng.integers(0, 3, size=32)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8)


def _fit(model, backup_dir, epochs, extra=()):
    recorder = am._EpochRecorder(
        model, _data(), str(backup_dir / "epochs.json")
    )
    model.fit(
        _data(),
        epochs=epochs,
        verbose=0,
        shuffle=False,
        callbacks=[
            recorder,
            kd.callbacks.BackupAndRestore(backup_dir),
            *extra,
        ],
    )
    return recorder


def test_a_resumed_run_keeps_the_finished_epochs_and_says_where(tmp_path):
    backup = tmp_path / "backup"
    with pytest.raises(_Interrupt):
        _fit(_model(), backup, 4, [_InterruptAfterEpoch(1)])
    state = json.loads((backup / "epochs.json").read_text())
    assert len(state["accuracy"]) == 2
    recorder = _fit(_model(), backup, 4)
    assert recorder.resumed_at_epoch == [2]
    assert len(recorder.seconds) == len(recorder.accuracy) == 4
    # The first two epochs are the interrupted run's own measurements.
    assert recorder.accuracy[:2] == state["accuracy"]
    assert not backup.exists()


def test_epochs_recorded_past_the_backup_are_dropped(tmp_path):
    # Killed after the recorder saved epoch 2 but before the backup did:
    # the run resumes at epoch 2 and measures it again.
    backup = tmp_path / "backup"
    with pytest.raises(_Interrupt):
        _fit(_model(), backup, 4, [_InterruptAfterEpoch(1)])
    state = json.loads((backup / "epochs.json").read_text())
    for name in ("seconds", "accuracy", "ce"):
        state[name].append(0.5)
    (backup / "epochs.json").write_text(json.dumps(state))
    recorder = _fit(_model(), backup, 4)
    assert recorder.resumed_at_epoch == [2]
    assert len(recorder.accuracy) == 4
    assert 0.5 not in recorder.seconds
