import keras
import numpy as np
import pytest
from keras import layers

import kd_toolkit as kd


def _net(name, seed, softmax=False):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1))
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(3, activation="softmax" if softmax else None)(x)
    return keras.Model(inputs, out, name=name)


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_outputs_the_log_of_the_weighted_mean_prediction():
    a, b = _net("a", 1), _net("b", 2, softmax=True)
    x = np.random.default_rng(0).random((5, 8, 8, 1), dtype="float32")
    ensemble = kd.teacher_ensemble([a, b], teacher_weights=[3.0, 1.0])
    expected = 0.75 * _softmax(a.predict(x, verbose=0)) + 0.25 * b.predict(
        x, verbose=0
    )
    np.testing.assert_allclose(
        np.exp(ensemble.predict(x, verbose=0)), expected, rtol=1e-5, atol=1e-7
    )
    assert not ensemble.trainable_weights


def test_distils_a_student_and_trains_from_the_cache():
    teachers = [_net("a", 1), _net("b", 2)]
    ensemble = kd.teacher_ensemble(teachers)
    rng = np.random.default_rng(0)
    x = rng.random((64, 8, 8, 1), dtype="float32")
    y = rng.integers(0, 3, 64)
    student = _net("s", 3)
    distiller = kd.Distiller(
        ensemble, student, losses=[kd.losses.KD(1.0)], student_loss_weight=0.0
    )
    assert distiller.teacher_outputs == "logits"  # log-probabilities
    distiller.compile(keras.optimizers.Adam(0.05))
    history = distiller.fit(x, y, batch_size=16, epochs=5, verbose=0)
    assert history.history["kd_loss"][-1] < history.history["kd_loss"][0]
    cache = kd.TeacherLogitsCache.build(ensemble, x)
    assert cache.outputs.shape == (64, 1, 3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(teachers=["a"]), "at least two keras.Model"),
        (dict(teachers="pair"), "at least two keras.Model"),
        (dict(teacher_weights=[1.0]), "one weight per teacher"),
        (dict(teacher_weights=[0.0, 0.0]), "must not all be 0"),
        (dict(teacher_weights=[1.0, -1.0]), r"Received: teacher_weights=-1.0"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = {"teachers": [_net("a", 1), _net("b", 2)], **kwargs}
    with pytest.raises(ValueError, match=match):
        kd.teacher_ensemble(**args)


def test_same_names_and_mismatched_teachers_are_refused():
    with pytest.raises(ValueError, match="its own name"):
        kd.teacher_ensemble([_net("a", 1), _net("a", 2)])
    other = keras.Sequential(
        [keras.Input((8, 8, 1)), layers.Flatten(), layers.Dense(5)], name="five"
    )
    with pytest.raises(ValueError, match="same input shape and class count"):
        kd.teacher_ensemble([_net("a", 1), other])
