import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

import kd_toolkit as kd
from kd_toolkit.adaptation import Replacement
from kd_toolkit.adaptation import adapt_teacher
from kd_toolkit.data import batching
from kd_toolkit.distiller.resume import replay_epochs
from tests.adaptation.toy_models import tiny_resnet

EPOCHS, BATCHES = 3, 5  # 3 epochs of 5 batches of 8


def _net(name, filters):
    inputs = keras.Input((8, 8, 1))
    x = layers.Conv2D(filters, 3, padding="same", name="conv")(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.ReLU(name="feat")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, layers.Dense(3, name="logits")(x), name=name)


def _dataset():
    """A freshly built, seeded pipeline: shuffle plus crop-and-flip views."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 8 * BATCHES)
    x = rng.integers(0, 256, (8 * BATCHES, 8, 8, 1)).astype("uint8")
    source = tf.data.Dataset.from_tensor_slices((x, y))
    return batching.build(
        source,
        num_classes=3,
        batch_size=8,
        seed=7,
        shuffle_buffer=64,
        augment_spec=kd.data.AugmentSpec(pad=2, flip=True),
    )


def _distiller(method):
    """`method`: "kd"; "hint" (a loss with its own trainable connector);
    "ama" (trainable adapters inside the teacher)."""
    # Fixed initial weights: a resumed run must not depend on them.
    keras.utils.set_random_seed(1)
    if method == "ama":
        rep = Replacement(
            "block1_out", "block3_out", student_layer="block2_out"
        )
        teacher = adapt_teacher(tiny_resnet(), [rep]).model
        student = tiny_resnet("student", width=4)
        losses = [kd.losses.KD(2.0), kd.losses.ActivationMapAdaptation([rep])]
    else:
        teacher, student = _net("t", 8), _net("s", 4)
        losses = [kd.losses.KD(2.0)]
        if method == "hint":
            losses.append(kd.losses.Hint("feat", "feat", weight=0.5))
    distiller = kd.Distiller(teacher, student, losses=losses)
    distiller.compile(keras.optimizers.Adam(0.01))
    return distiller


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt


def _trainable_values(distiller):
    return [v.numpy() for v in distiller.trainable_variables]


@pytest.mark.parametrize("method", ["kd", "hint"])
def test_interrupted_and_resumed_run_matches_an_uninterrupted_one(
    tmp_path, method
):
    reference = _distiller(method)
    reference.fit(_dataset(), epochs=EPOCHS, verbose=0)

    backup_dir = tmp_path / "backup"
    # A backup every 2 batches (counted across epochs: after global steps
    # 2, 4, 6, 8, i.e. epoch 1's batch indices 0 and 2); the run stops
    # right after the backup at epoch 1, batch index 2.
    first = _distiller(method)
    with pytest.raises(KeyboardInterrupt):
        first.fit(
            _dataset(),
            epochs=EPOCHS,
            verbose=0,
            callbacks=[
                kd.callbacks.BackupAndRestore(backup_dir, save_freq=2),
                _Interrupt(epoch=1, batch=2),
            ],
        )
    meta = json.loads((backup_dir / "training_metadata.json").read_text())
    assert (meta["epoch"], meta["batches_done"]) == (1, 3)
    assert meta["iterations"] == BATCHES + 3

    resumed = _distiller(method)  # a new process would rebuild everything
    backup = kd.callbacks.BackupAndRestore(backup_dir, save_freq=2)
    assert backup.resume_point() == (1, 3)
    history = resumed.fit(
        _dataset(), epochs=EPOCHS, verbose=0, callbacks=[backup]
    )
    assert len(history.history["loss"]) == EPOCHS - 1
    assert not backup_dir.exists()  # deleted once training finished
    assert int(resumed.optimizer.iterations) == EPOCHS * BATCHES
    # Same ops on the same batches in the same order: measured
    # bit-identical weights and optimizer state on a 2-core CPU; the margin
    # covers a multi-threaded kernel summing in another order elsewhere.
    # (Keras's callback, which restarts the epoch, misses by ~1e-2: below.)
    for want, got in zip(
        _trainable_values(reference), _trainable_values(resumed)
    ):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_backup_restores_ama_adapters_and_their_optimizer_state(tmp_path):
    """AMA trains adapters inside the teacher: they and their Adam slots
    are in the backup. (The exact-resume mechanism does not depend on the
    loss; the full interrupted-run comparison above covers it.)"""
    backup_dir = tmp_path / "backup"
    trained = _distiller("ama")
    trained.fit(
        _dataset(),
        epochs=1,
        verbose=0,
        callbacks=[
            kd.callbacks.BackupAndRestore(backup_dir, delete_checkpoint=False)
        ],
    )
    restored = _distiller("ama")
    adapters = [v for v in restored.teacher.trainable_variables]
    assert adapters  # the adapted teacher trains
    before = [v.numpy().copy() for v in adapters]
    # Nothing left to train: `fit` only restores.
    restored.fit(
        _dataset(),
        epochs=1,
        verbose=0,
        callbacks=[kd.callbacks.BackupAndRestore(backup_dir)],
    )
    assert any(
        not np.array_equal(b, v.numpy()) for b, v in zip(before, adapters)
    )
    for want, got in zip(
        _trainable_values(trained), _trainable_values(restored)
    ):
        np.testing.assert_array_equal(got, want)
    assert int(restored.optimizer.iterations) == BATCHES
    for want, got in zip(
        trained.optimizer.variables, restored.optimizer.variables
    ):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_resuming_without_skipping_would_differ(tmp_path):
    """The exactness test above can fail: Keras's own callback (which
    restarts the epoch) ends elsewhere."""
    reference = _distiller("kd")
    reference.fit(_dataset(), epochs=EPOCHS, verbose=0)
    backup_dir = tmp_path / "backup"
    first = _distiller("kd")
    with pytest.raises(KeyboardInterrupt):
        first.fit(
            _dataset(),
            epochs=EPOCHS,
            verbose=0,
            callbacks=[
                kd.callbacks.BackupAndRestore(backup_dir, save_freq=2),
                _Interrupt(epoch=1, batch=2),
            ],
        )
    resumed = _distiller("kd")
    with pytest.warns(UserWarning, match="restarts an interrupted epoch"):
        resumed.fit(
            _dataset(),
            epochs=EPOCHS,
            verbose=0,
            callbacks=[
                keras.callbacks.BackupAndRestore(str(backup_dir), save_freq=2)
            ],
        )
    assert int(resumed.optimizer.iterations) == EPOCHS * BATCHES + 3
    student = resumed.student.get_weights()[0]
    assert not np.allclose(
        student, reference.student.get_weights()[0], atol=1e-4
    )


def test_replay_epochs_brings_the_data_to_a_later_epoch():
    """What `fit` saw in epoch 2 is what it sees after replaying two."""
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append([])

    class Model(keras.Model):
        def train_step(self, data):
            return {"first": data[0][0, 0, 0, 0] + data[0][1, 1, 1, 0]}

    def fit(dataset, epochs, replay=0):
        model = Model(
            inputs=(i := keras.Input((8, 8, 1))), outputs=layers.Flatten()(i)
        )
        model.compile()
        if replay:
            replay_epochs(model, dataset, replay)
        values = []
        model.fit(
            dataset,
            epochs=epochs,
            verbose=0,
            callbacks=[
                keras.callbacks.LambdaCallback(
                    on_train_batch_end=lambda b, logs: values.append(
                        float(logs["first"])
                    )
                )
            ],
        )
        return values

    full = fit(_dataset(), epochs=3)
    assert full[2 * BATCHES :] != full[BATCHES : 2 * BATCHES]
    assert fit(_dataset(), epochs=1, replay=2) == full[2 * BATCHES :]


def test_inconsistent_backup_is_refused(tmp_path):
    backup_dir = tmp_path / "backup"
    first = _distiller("kd")
    first.fit(
        _dataset(),
        epochs=1,
        verbose=0,
        callbacks=[
            kd.callbacks.BackupAndRestore(backup_dir, delete_checkpoint=False)
        ],
    )
    path = backup_dir / "training_metadata.json"
    meta = json.loads(path.read_text())
    meta["iterations"] += 1
    path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="inconsistent"):
        _distiller("kd").fit(
            _dataset(),
            epochs=2,
            verbose=0,
            callbacks=[kd.callbacks.BackupAndRestore(backup_dir)],
        )


def test_finished_backup_resumes_to_nothing_without_error(tmp_path):
    backup_dir = tmp_path / "backup"
    _distiller("kd").fit(
        _dataset(),
        epochs=1,
        verbose=0,
        callbacks=[
            kd.callbacks.BackupAndRestore(backup_dir, delete_checkpoint=False)
        ],
    )
    history = _distiller("kd").fit(
        _dataset(),
        epochs=1,
        verbose=0,
        callbacks=[kd.callbacks.BackupAndRestore(backup_dir)],
    )
    assert history.history == {}


@pytest.mark.parametrize("save_freq", [0, "batch", True])
def test_bad_save_freq_is_refused(tmp_path, save_freq):
    with pytest.raises(ValueError, match="save_freq"):
        kd.callbacks.BackupAndRestore(tmp_path, save_freq=save_freq)


def _interrupted_backup(tmp_path, method="kd"):
    """A backup left by a run stopped after its first epoch."""
    backup_dir = tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt):
        _distiller(method).fit(
            _dataset(),
            epochs=EPOCHS,
            verbose=0,
            callbacks=[
                kd.callbacks.BackupAndRestore(backup_dir),
                _Interrupt(epoch=1, batch=0),
            ],
        )
    assert (backup_dir / "training_metadata.json").exists()
    return backup_dir


def _resume(distiller, backup_dir):
    distiller.fit(
        _dataset(),
        epochs=EPOCHS,
        verbose=0,
        callbacks=[kd.callbacks.BackupAndRestore(backup_dir)],
    )


def test_a_backup_refuses_a_run_with_another_teacher(tmp_path):
    backup_dir = _interrupted_backup(tmp_path)
    resumed = _distiller("kd")
    # Same architecture, new weights: a retrained teacher.
    kernel = resumed.teacher.get_layer("conv").kernel
    kernel.assign(kernel.numpy() + 0.1)
    before = [w.numpy() for w in resumed.teacher.weights]
    with pytest.raises(
        ValueError,
        match=r"made for another run: the teacher's weights differ.*"
        r"Delete the directory.*Received: backup_dir=",
    ):
        _resume(resumed, backup_dir)
    # Nothing was loaded into the new teacher.
    for want, got in zip(before, resumed.teacher.weights):
        np.testing.assert_array_equal(got.numpy(), want)


def test_a_backup_refuses_another_student_or_other_losses(tmp_path):
    backup_dir = _interrupted_backup(tmp_path)
    keras.utils.set_random_seed(1)
    other_student = kd.Distiller(
        _net("t", 8), _net("s", 6), losses=[kd.losses.KD(2.0)]
    )
    other_student.compile(keras.optimizers.Adam(0.01))
    with pytest.raises(ValueError, match=r"student's architecture differs"):
        _resume(other_student, backup_dir)
    keras.utils.set_random_seed(1)
    other_losses = kd.Distiller(
        _net("t", 8), _net("s", 4), losses=[kd.losses.KD(3.0)]
    )
    other_losses.compile(keras.optimizers.Adam(0.01))
    with pytest.raises(ValueError, match=r"losses or their settings differ"):
        _resume(other_losses, backup_dir)


def test_the_same_run_rebuilt_resumes(tmp_path):
    backup_dir = _interrupted_backup(tmp_path)
    resumed = _distiller("kd")
    _resume(resumed, backup_dir)
    assert int(resumed.optimizer.iterations) == EPOCHS * BATCHES


@pytest.mark.parametrize("damage", ["weights", "metadata"])
def test_a_truncated_backup_names_its_directory(tmp_path, damage):
    backup_dir = _interrupted_backup(tmp_path)
    names = {
        "weights": "latest.weights.h5",
        "metadata": "training_metadata.json",
    }
    path = backup_dir / names[damage]
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(
        ValueError,
        match=rf"backup in '{backup_dir}'.*Delete the directory to start "
        r"over.*Received: backup_dir=",
    ):
        _resume(_distiller("kd"), backup_dir)


def test_a_backup_of_an_old_format_without_fingerprint_still_resumes(
    tmp_path,
):
    backup_dir = _interrupted_backup(tmp_path)
    path = backup_dir / "training_metadata.json"
    meta = json.loads(path.read_text())
    del meta["fingerprint"]
    path.write_text(json.dumps(meta))
    resumed = _distiller("kd")
    _resume(resumed, backup_dir)
    assert int(resumed.optimizer.iterations) == EPOCHS * BATCHES
