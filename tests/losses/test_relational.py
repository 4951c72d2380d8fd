"""RKD, similarity preserving and PKT against numpy computations written
from the papers' formulas (loops over pairs and triplets, not the
implementation's matrix algebra)."""

import itertools
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import kd_toolkit as kd
from kd_toolkit import losses
from tests.losses.helpers import make_inputs
from tests.losses.helpers import pooled_net

T = np.array(
    [[1.0, 0.0, 2.0], [0.5, 1.5, -1.0], [-1.0, 0.3, 0.2], [0.2, -0.7, 1.1]]
)  # teacher (4, 3)
S = np.array([[0.3, 1.0], [1.2, -0.4], [-0.6, 0.9], [0.1, 0.1]])  # (4, 2)


def _inputs(t=T, s=S):
    return make_inputs(teacher_features={"t": t}, student_features={"s": s})


def _huber(x):
    return 0.5 * x * x if abs(x) < 1 else abs(x) - 0.5


def _rkd_reference(t, s, w_d, w_a):
    b = len(t)

    def psi_d(x):
        d = {
            (i, j): np.linalg.norm(x[i] - x[j])
            for i in range(b)
            for j in range(b)
        }
        mu = sum(v for (i, j), v in d.items() if i != j) / (b * (b - 1))
        return {k: v / mu for k, v in d.items()}

    def psi_a(x):
        def unit(v):
            n = np.linalg.norm(v)
            return v / n if n > 0 else v

        return {
            (i, j, k): float(unit(x[i] - x[j]) @ unit(x[k] - x[j]))
            for i, j, k in itertools.product(range(b), repeat=3)
        }

    dt, ds, at, as_ = psi_d(t), psi_d(s), psi_a(t), psi_a(s)
    per = []
    for i in range(b):
        dist = np.mean([_huber(ds[i, j] - dt[i, j]) for j in range(b)])
        ang = np.mean(
            [
                _huber(as_[i, j, k] - at[i, j, k])
                for j in range(b)
                for k in range(b)
            ]
        )
        per.append(w_d * dist + w_a * ang)
    return np.array(per)


def test_rkd_matches_the_papers_distances_and_angles():
    loss = losses.RKD(
        "t", "s", distance_weight=2.0, angle_weight=3.0, weight=0.5
    )
    got = np.asarray(loss.compute(_inputs())["rkd_loss"])
    np.testing.assert_allclose(
        got, 0.5 * _rkd_reference(T, S, 2.0, 3.0), rtol=1e-4, atol=1e-6
    )
    # Invariant to a rotation, translation and scale of the embedding.
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))
    moved = 3.0 * T @ q + 1.0
    same = losses.RKD("t", "s").compute(_inputs(T, moved))["rkd_loss"]
    np.testing.assert_allclose(same, 0.0, atol=1e-4)


def test_similarity_preserving_matches_the_formula():
    def g(f):
        m = f @ f.T
        return m / np.linalg.norm(m, axis=1, keepdims=True)

    b = len(T)
    expected = ((g(T) - g(S)) ** 2).sum(axis=1) / b
    loss = losses.SimilarityPreserving("t", "s", weight=2.0)
    got = np.asarray(loss.compute(_inputs())["sp_loss"])
    np.testing.assert_allclose(got, 2.0 * expected, rtol=1e-5)
    # Its batch mean is the paper's γ / b² · ‖G_T − G_S‖_F².
    assert got.mean() == pytest.approx(
        2.0 / b**2 * ((g(T) - g(S)) ** 2).sum(), rel=1e-5
    )


def test_pkt_matches_the_formula():
    def p(f):
        f = f / np.linalg.norm(f, axis=1, keepdims=True)
        k = (f @ f.T + 1) / 2
        return k / k.sum(axis=1, keepdims=True)

    pt, ps = p(T), p(S)
    expected = [
        sum(pt[i, j] * math.log(pt[i, j] / ps[i, j]) for j in range(len(T)))
        for i in range(len(T))
    ]
    got = np.asarray(losses.PKT("t", "s").compute(_inputs())["pkt_loss"])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    same = losses.PKT("t", "s").compute(_inputs(T, 2.0 * T))["pkt_loss"]
    np.testing.assert_allclose(same, 0.0, atol=1e-6)


@pytest.mark.parametrize(
    "cls", [losses.RKD, losses.SimilarityPreserving, losses.PKT]
)
def test_gradient_reaches_the_student_only(cls):
    t = tf.constant(T, "float32")
    s = tf.Variable(S, dtype="float32")
    loss = cls("t", "s")
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
        total = tf.reduce_sum(out[f"{loss.name}_loss"])
    grad = tape.gradient(total, s).numpy()
    assert np.isfinite(grad).all() and np.abs(grad).sum() > 0
    assert tape.gradient(total, t) is None


def test_by_name_says_which_arguments_are_missing():
    assert {"rkd", "sp", "pkt"} <= set(losses.names())
    with pytest.raises(
        ValueError,
        match=(
            r"'rkd' \(RKD\) has no default for \['teacher_layer', "
            r"'student_layer'\].*Received: no arguments"
        ),
    ):
        losses.get("rkd")
    with pytest.raises(
        ValueError,
        match=r"\['student_layer'\].*Received: "
        r"teacher_layer='pool'",
    ):
        losses.get("sp", teacher_layer="pool")
    loss = losses.get("pkt", teacher_layer="pool", student_layer="pool")
    assert isinstance(loss, losses.PKT)
    with pytest.raises(TypeError, match="Received: teacher_layer=3"):
        losses.RKD(3, "pool")


@pytest.mark.parametrize(
    "make",
    [
        lambda: losses.RKD(
            "feat", "feat", distance_weight=1.0, angle_weight=2.0
        ),
        lambda: losses.SimilarityPreserving("feat", "feat", weight=100.0),
        lambda: losses.PKT("feat", "feat"),
    ],
)
def test_save_load_and_a_few_fit_steps_lower_the_loss(tmp_path, make):
    loss = make()
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss)
    )
    assert type(clone) is type(loss)
    assert clone.get_config() == loss.get_config()

    rng = np.random.default_rng(0)
    x = rng.random((64, 8, 8, 1), dtype="float32")
    y = rng.integers(0, 3, 64)
    distiller = kd.Distiller(
        pooled_net("t", 8),
        pooled_net("s", 4),
        losses=[loss],
        student_loss_weight=0.0,
    )
    distiller.compile(keras.optimizers.Adam(0.02))
    history = distiller.fit(
        x, y, batch_size=32, epochs=8, verbose=0, shuffle=False
    ).history
    key = f"{loss.name}_loss"
    assert history[key][-1] < history[key][0]
    path = tmp_path / "distiller.keras"
    distiller.save(path)
    again = keras.models.load_model(path)
    assert [type(x) for x in again.distillation_losses] == [type(loss)]
