"""CRD (in-batch negatives) against values worked out by hand."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import kd_toolkit as kd
from kd_toolkit import losses
from tests.losses.helpers import make_inputs
from tests.losses.helpers import pooled_net


def _identity_heads(loss, dim):
    """Builds `loss` for `dim`-wide embeddings with identity heads, so the
    contrast is between the embeddings themselves."""
    loss.build_from_features({"t": (None, dim)}, {"s": (None, dim)})
    for head in (loss.teacher_head, loss.student_head):
        head.set_weights([np.eye(dim, dtype="float32"), np.zeros(dim)])


def _crd(t, s, temperature):
    loss = losses.CRD("t", "s", feat_dim=2, temperature=temperature, weight=1)
    _identity_heads(loss, 2)
    inputs = make_inputs(teacher_features={"t": t}, student_features={"s": s})
    return np.asarray(loss.compute(inputs)["crd_loss"])


def test_matches_values_worked_out_by_hand():
    e1, e2 = [1.0, 0.0], [0.0, 1.0]
    # Teacher and student agree (scaled, which the normalisation removes):
    # each row and column of the similarity matrix is [1/τ, 0] with the
    # positive first, so each direction costs log(1 + e^(−1/τ)).
    agree = _crd([e1, e2], [[3.0, 0.0], [0.0, 0.5]], temperature=1.0)
    np.testing.assert_allclose(agree, [math.log(1 + math.exp(-1))] * 2, 1e-5)
    sharp = _crd([e1, e2], [e1, e2], temperature=0.5)
    np.testing.assert_allclose(sharp, [math.log(1 + math.exp(-2))] * 2, 1e-5)
    # The student maps both images to e1. Student anchors: row 1 is [1, 0]
    # with its positive first, log(1 + 1/e); row 2 is [1, 0] with its
    # positive second, log(1 + e). Teacher anchors: column 1 is [1, 1],
    # column 2 is [0, 0]: log 2 each.
    collapsed = _crd([e1, e2], [e1, e1], temperature=1.0)
    np.testing.assert_allclose(
        collapsed,
        [
            0.5 * (math.log(1 + math.exp(-1)) + math.log(2)),
            0.5 * (math.log(1 + math.e) + math.log(2)),
        ],
        rtol=1e-5,
    )


def test_gradient_reaches_the_student_and_both_heads_only():
    rng = np.random.default_rng(0)
    t = tf.constant(rng.standard_normal((6, 5)), "float32")
    s = tf.Variable(rng.standard_normal((6, 3)), dtype="float32")
    loss = losses.CRD("t", "s", feat_dim=4)
    loss.build_from_features({"t": (None, 5)}, {"s": (None, 3)})
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(t)
        out = loss.compute(
            losses.LossInputs(
                labels=None,
                teacher_logits=None,
                student_logits=None,
                teacher_features={"t": tf.stop_gradient(t)},
                student_features={"s": s},
                training=True,
            )
        )
        total = tf.reduce_sum(out["crd_loss"])
    assert tape.gradient(total, t) is None
    for variable in [s, *loss.trainable_variables]:
        grad = tape.gradient(total, variable).numpy()
        assert np.isfinite(grad).all() and np.abs(grad).sum() > 0
    assert len(loss.trainable_variables) == 4  # two heads, kernel + bias


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="Received: feat_dim=0"):
        losses.CRD("t", "s", feat_dim=0)
    with pytest.raises(ValueError, match="Received: temperature=0"):
        losses.CRD("t", "s", temperature=0)
    with pytest.raises(ValueError, match=r"\['teacher_layer', 'student"):
        losses.get("crd")


def test_by_name_save_load_and_a_few_fit_steps_lower_the_loss(tmp_path):
    loss = losses.get("crd", teacher_layer="feat", student_layer="feat")
    assert isinstance(loss, losses.CRD)
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss)
    )
    assert clone.get_config() == loss.get_config()

    rng = np.random.default_rng(0)
    x = rng.random((64, 8, 8, 1), dtype="float32")
    y = rng.integers(0, 3, 64)
    teacher = pooled_net("t", 8)
    before = [w.copy() for w in teacher.get_weights()]
    distiller = kd.Distiller(
        teacher, pooled_net("s", 4), losses=[loss], student_loss_weight=0.0
    )
    distiller.compile(keras.optimizers.Adam(0.02))
    history = distiller.fit(
        x, y, batch_size=32, epochs=8, verbose=0, shuffle=False
    ).history
    assert history["crd_loss"][-1] < history["crd_loss"][0]
    for w, v in zip(before, teacher.get_weights()):
        np.testing.assert_array_equal(w, v)
    path = tmp_path / "distiller.keras"
    distiller.save(path)
    again = keras.models.load_model(path)
    (restored,) = again.distillation_losses
    for w, v in zip(
        loss.student_head.get_weights(), restored.student_head.get_weights()
    ):
        np.testing.assert_array_equal(w, v)
