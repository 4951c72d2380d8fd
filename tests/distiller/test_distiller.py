import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

import kd_toolkit as kd


def _net(name, filters, classes=3, shape=(8, 8, 1), softmax=False):
    inputs = keras.Input(shape)
    x = layers.Conv2D(filters, 3, padding="same", name="conv")(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.ReLU(name="feat")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(
        classes, name="logits", activation="softmax" if softmax else None
    )(x)
    return keras.Model(inputs, outputs, name=name)


def _data(n=64, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.normal(size=(n, 8, 8, 1)).astype("float32") + y[:, None, None, None]
    return x, y


def test_fit_lowers_loss_and_keeps_teacher_bit_identical():
    teacher, student = _net("t", 8), _net("s", 4)
    before = [w.copy() for w in teacher.get_weights()]
    x, y = _data()
    distiller = kd.Distiller(
        teacher,
        student,
        losses=[
            kd.losses.KD(2.0),
            kd.losses.Hint("feat", "feat"),
            kd.losses.AttentionTransfer([("feat", "feat")], weight=10.0),
        ],
    )
    distiller.compile(keras.optimizers.Adam(0.01), metrics=["accuracy"])
    history = distiller.fit(
        x, y, batch_size=16, epochs=5, verbose=0, validation_data=(x, y)
    )
    logs = history.history
    assert logs["loss"][-1] < logs["loss"][0]
    for key in (
        "student_loss",
        "kd_loss",
        "hint_loss",
        "at_loss",
        "accuracy",
        "val_loss",
        "val_kd_loss",
        "val_accuracy",
    ):
        assert key in logs, key
    after = teacher.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    assert all(not w.trainable for w in teacher.weights)


def test_loss_terms_add_up_to_the_reported_loss():
    distiller = kd.Distiller(
        _net("t", 8),
        _net("s", 4),
        losses=[kd.losses.KD(2.0, weight=0.5)],
        student_loss_weight=0.5,
    )
    distiller.compile("adam")
    x, y = _data()
    logs = distiller.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(
        logs["student_loss"] + logs["kd_loss"], rel=1e-5
    )
    probs = keras.ops.softmax(distiller.student(x)).numpy()
    ce = -np.log(probs[np.arange(len(y)), y]).mean()
    assert logs["student_loss"] == pytest.approx(0.5 * ce, rel=1e-4)


def test_integer_and_one_hot_labels_give_the_same_loss():
    distiller = kd.Distiller(_net("t", 8), _net("s", 4))
    distiller.compile("adam")
    x, y = _data()
    sparse = distiller.evaluate(x, y, verbose=0, return_dict=True)
    distiller.compile("adam")
    dense = distiller.evaluate(
        x, keras.utils.to_categorical(y, 3), verbose=0, return_dict=True
    )
    assert sparse["loss"] == pytest.approx(dense["loss"], rel=1e-6)


def test_sample_weights_weight_every_term():
    distiller = kd.Distiller(_net("t", 8), _net("s", 4))
    distiller.compile("adam")
    x, y = _data(n=32)
    w = np.zeros(32, dtype="float32")
    w[:8] = 1.0
    weighted = distiller.evaluate(
        x, y, sample_weight=w, batch_size=32, verbose=0, return_dict=True
    )
    first = distiller.evaluate(
        x[:8], y[:8], batch_size=8, verbose=0, return_dict=True
    )
    # Keras reduction: sum(loss * w) / batch_size.
    assert weighted["kd_loss"] == pytest.approx(first["kd_loss"] / 4, rel=1e-5)
    assert weighted["student_loss"] == pytest.approx(
        first["student_loss"] / 4, rel=1e-5
    )


def test_softmax_models_are_detected_and_distilled_on_log_probabilities():
    t_logits, s_logits = _net("t", 8), _net("s", 4)
    t_soft, s_soft = _net("ts", 8, softmax=True), _net("ss", 4, softmax=True)
    t_soft.set_weights(t_logits.get_weights())
    s_soft.set_weights(s_logits.get_weights())
    x, y = _data()
    results = []
    for t, s in ((t_logits, s_logits), (t_soft, s_soft)):
        d = kd.Distiller(t, s)
        d.compile("adam")
        results.append(d.evaluate(x, y, verbose=0, return_dict=True))
    assert kd.Distiller(t_soft, s_soft).student_outputs == "probabilities"
    assert results[0]["kd_loss"] == pytest.approx(
        results[1]["kd_loss"], rel=1e-4
    )
    assert results[0]["student_loss"] == pytest.approx(
        results[1]["student_loss"], rel=1e-4
    )


def test_string_cross_entropy_on_logit_student_is_refused():
    distiller = kd.Distiller(_net("t", 8), _net("s", 4))
    with pytest.raises(
        ValueError,
        match="outputs logits.*Received: loss="
        "'sparse_categorical_crossentropy'",
    ):
        distiller.compile("adam", loss="sparse_categorical_crossentropy")
    distiller.compile(
        "adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x, y = _data()
    assert np.isfinite(distiller.fit(x, y, verbose=0).history["loss"][0])


def test_declared_output_kind_must_match_the_model():
    with pytest.raises(
        ValueError,
        match="computes probabilities.*Received: student_outputs='logits'",
    ):
        kd.Distiller(
            _net("t", 8), _net("s", 4, softmax=True), student_outputs="logits"
        )
    with pytest.raises(ValueError, match="Received: teacher_outputs='soft'"):
        kd.Distiller(_net("t", 8), _net("s", 4), teacher_outputs="soft")


def test_callbacks_and_predict():
    distiller = kd.Distiller(_net("t", 8), _net("s", 4))
    distiller.compile("adam", metrics=["accuracy"])
    x, y = _data()
    stop = keras.callbacks.EarlyStopping(
        monitor="loss", patience=0, min_delta=10.0
    )
    history = distiller.fit(x, y, epochs=5, verbose=0, callbacks=[stop])
    assert len(history.history["loss"]) < 5
    np.testing.assert_allclose(
        distiller.predict(x, verbose=0),
        distiller.student.predict(x, verbose=0),
        rtol=1e-6,
    )


def test_tf_data_with_sample_weights():
    distiller = kd.Distiller(_net("t", 8), _net("s", 4))
    distiller.compile("adam")
    x, y = _data()
    ds = tf.data.Dataset.from_tensor_slices(
        (x, y, np.ones(len(y), "float32"))
    ).batch(16)
    assert np.isfinite(distiller.fit(ds, verbose=0).history["kd_loss"][0])


@pytest.mark.parametrize(
    "teacher_kw, match",
    [
        (
            {"shape": (8, 8, 3)},
            r"same input shape.*teacher input shape "
            r"\(8, 8, 3\), student input shape \(8, 8, 1\)",
        ),
        (
            {"classes": 5},
            r"same number of classes.*teacher num_classes=5, "
            r"student num_classes=3",
        ),
    ],
)
def test_mismatched_models_are_refused(teacher_kw, match):
    with pytest.raises(ValueError, match=match):
        kd.Distiller(_net("t", 8, **teacher_kw), _net("s", 4))


def test_unknown_loss_name_lists_choices():
    with pytest.raises(
        ValueError,
        match=r"one of \[.*'kd'.*\].*"
        r"Received: loss='hinton'",
    ):
        kd.Distiller(_net("t", 8), _net("s", 4), losses=["hinton"])


def test_unknown_layer_name_lists_close_names():
    with pytest.raises(
        ValueError,
        match=r"Closest names: \['feat'\].*"
        r"Received: student_layer='feet'",
    ):
        kd.Distiller(
            _net("t", 8), _net("s", 4), losses=[kd.losses.Hint("feat", "feet")]
        )


def test_subclassed_teacher_works_for_kd_but_not_for_taps():
    class Sub(keras.Model):
        def __init__(self):
            super().__init__(name="sub")
            self.inner = _net("inner", 4)

        def call(self, x, training=None):
            return self.inner(x, training=training)

    teacher = Sub()
    teacher(np.zeros((1, 8, 8, 1), "float32"))
    distiller = kd.Distiller(teacher, _net("s", 4))
    distiller.compile("adam")
    x, y = _data()
    assert np.isfinite(distiller.fit(x, y, verbose=0).history["loss"][0])
    with pytest.raises(ValueError, match="subclassed model"):
        kd.Distiller(
            teacher, _net("s", 4), losses=[kd.losses.Hint("feat", "feat")]
        )


@pytest.mark.parametrize("jit_compile", [False, True])
def test_labels_out_of_range_raise(jit_compile):
    distiller = kd.Distiller(_net("t", 8), _net("s", 4))
    distiller.compile("adam", jit_compile=jit_compile)
    x, y = _data()
    y[3] = 7
    with pytest.raises(
        ValueError,
        match=r"in \[0, 3\).*Received: y\[3\]=7 "
        r"\(1 labels out of range\)",
    ):
        distiller.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match=r"validation_data\[1\]\[3\]=7"):
        distiller.fit(x, y % 3, validation_data=(x, y), verbose=0)
    # XLA compiles in-step assertions away: the tf.data check still holds.
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"in \[0, 3\) or -1 \(unlabeled\)\. Received: out-of-range",
    ):
        distiller.fit(dataset, verbose=0)


def test_non_finite_loss_stops_with_a_clear_error():
    distiller = kd.Distiller(_net("t", 8), _net("s", 4))
    distiller.compile("adam")
    x, y = _data()
    x[5] = np.nan
    with pytest.raises(
        FloatingPointError,
        match=r"Non-finite loss at epoch 1"
        r", batch 0: .*'kd_loss': nan",
    ):
        distiller.fit(x, y, batch_size=16, shuffle=False, verbose=0)


def test_student_and_distiller_save_and_load(tmp_path):
    teacher, student = _net("t", 8), _net("s", 4)
    distiller = kd.Distiller(
        teacher,
        student,
        losses=[kd.losses.KD(3.0), kd.losses.Hint("feat", "feat", weight=0.5)],
    )
    distiller.compile("adam")
    x, y = _data()
    distiller.fit(x, y, verbose=0)
    path = tmp_path / "student.keras"
    distiller.student.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_allclose(
        restored.predict(x, verbose=0), student.predict(x, verbose=0), rtol=1e-6
    )
    config = keras.saving.serialize_keras_object(distiller)
    clone = keras.saving.deserialize_keras_object(config)
    assert [type(loss).__name__ for loss in clone.distillation_losses] == [
        "KD",
        "Hint",
    ]
    assert clone.distillation_losses[0].temperature == 3.0


def test_distiller_round_trips_with_compile_config_and_optimizer(tmp_path):
    import warnings

    distiller = kd.Distiller(
        _net("t", 8),
        _net("s", 4),
        losses=[kd.losses.KD(2.0), kd.losses.Hint("feat", "feat")],
    )
    distiller.compile(
        keras.optimizers.Adam(0.01),
        metrics=["accuracy"],
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x, y = _data()
    distiller.fit(x, y, batch_size=16, epochs=2, verbose=0)
    path = tmp_path / "distiller.keras"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        distiller.save(path)
        restored = keras.models.load_model(path)
    messages = " ".join(str(w.message) for w in caught)
    assert "not yet been built" not in messages
    assert "compile() was not called" not in messages
    assert restored.compiled and restored.optimizer.learning_rate == 0.01
    assert int(restored.optimizer.iterations) == 8
    for a, b in zip(
        restored.optimizer.variables, distiller.optimizer.variables
    ):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # The connector of the Hint loss came back with its trained weights...
    np.testing.assert_array_equal(
        restored.distillation_losses[1].get_weights()[0],
        distiller.distillation_losses[1].get_weights()[0],
    )
    # ...and training goes on exactly as it would have.
    for model in (distiller, restored):
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(
        restored.student.get_weights(), distiller.student.get_weights()
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_best_student_checkpoint_keeps_the_best_epoch(tmp_path):
    from kd_toolkit.distiller import BestStudentCheckpoint

    distiller = kd.Distiller(_net("t", 8), _net("s", 4))
    distiller.compile(keras.optimizers.Adam(0.05), metrics=["accuracy"])
    x, y = _data()
    path = tmp_path / "best.keras"
    checkpoint = BestStudentCheckpoint(path, monitor="val_loss", mode="min")
    history = distiller.fit(
        x,
        y,
        batch_size=16,
        epochs=4,
        verbose=0,
        validation_data=(x, y),
        callbacks=[checkpoint],
    )
    losses = history.history["val_loss"]
    assert checkpoint.best_epoch == int(np.argmin(losses))
    assert checkpoint.best == pytest.approx(min(losses))
    saved = keras.models.load_model(path)
    assert saved.name == "s"  # the student, not the distiller
    with pytest.raises(
        ValueError,
        match=r"Expected one of \[.*'val_loss'.*"
        r"Received: monitor='val_top5'",
    ):
        distiller.fit(
            x,
            y,
            epochs=1,
            verbose=0,
            validation_data=(x, y),
            callbacks=[BestStudentCheckpoint(path, "val_top5")],
        )
    with pytest.raises(ValueError, match="Received: mode='best'"):
        BestStudentCheckpoint(path, mode="best")


def test_a_saved_distiller_leaves_out_the_teachers_own_optimizer(tmp_path):
    """A teacher loaded compiled carries the optimizer state of its own
    training; the Distiller's files hold only what distillation needs."""
    import zipfile

    import h5py

    x = np.random.default_rng(0).random((16, 8, 8, 1), dtype=np.float32)
    y = np.arange(16) % 3
    teacher = _saving_net("t", 64)
    teacher.compile("adam", "sparse_categorical_crossentropy")
    teacher.fit(x, y, epochs=1, verbose=0)
    assert len(teacher.optimizer.variables) > 2  # Adam's slots
    distiller = kd.Distiller(teacher, _saving_net("s", 4))
    distiller.compile("adam")
    distiller.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "distiller.keras"
    distiller.save(path)
    names = []
    with (
        zipfile.ZipFile(path) as archive,
        h5py.File(archive.open("model.weights.h5")) as weights,
    ):
        weights.visit(names.append)
    # The teacher's weights (the first model), and no optimizer below it.
    assert "layers/functional/layers/conv2d/vars/0" in names
    assert not [n for n in names if n.startswith("layers/") and "optim" in n]
    # The teacher object keeps its optimizer; the distiller's own is saved.
    assert teacher.compiled and len(teacher.optimizer.variables) > 2
    assert any(n.startswith("optimizer/vars") for n in names)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Skipping variable loading"
        loaded = keras.models.load_model(path)
    for want, got in zip(distiller.weights, loaded.weights):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    loaded.fit(x, y, epochs=1, verbose=0)
    weights_path = tmp_path / "d.weights.h5"
    distiller.save_weights(weights_path)
    distiller.load_weights(weights_path)


def _saving_net(name, filters):
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(filters, 3, name="conv")(inputs)
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    return keras.Model(
        inputs, keras.layers.Dense(3, name="logits")(h), name=name
    )
