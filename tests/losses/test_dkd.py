import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import kd_toolkit as kd
from kd_toolkit import losses
from tests.losses.helpers import make_inputs


def _softmax(z):
    e = [math.exp(v) for v in z]
    return [v / sum(e) for v in e]


def _kl(p, q):
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))


T = [2.0, 0.5, -1.0, 0.0]  # teacher logits
S = [0.3, 1.0, 0.2, -0.4]  # student logits
Y = 1  # label


def test_dkd_matches_hand_computation():
    tau = 2.0
    p = _softmax([v / tau for v in T])
    q = _softmax([v / tau for v in S])
    tckd = tau**2 * _kl([p[Y], 1 - p[Y]], [q[Y], 1 - q[Y]])
    others = [c for c in range(4) if c != Y]
    nckd = tau**2 * _kl(
        _softmax([T[c] / tau for c in others]),
        _softmax([S[c] / tau for c in others]),
    )
    loss = losses.DKD(alpha=0.5, beta=3.0, temperature=tau, weight=2.0)
    out = loss.compute(
        make_inputs(
            teacher_logits=[T], student_logits=[S], labels=[np.eye(4)[Y]]
        )
    )
    np.testing.assert_allclose(out["tckd_loss"], [2.0 * 0.5 * tckd], rtol=1e-4)
    np.testing.assert_allclose(out["nckd_loss"], [2.0 * 3.0 * nckd], rtol=1e-4)


def test_kd_is_tckd_plus_weighted_nckd():
    """The paper's identity, computed through both losses: KD = TCKD +
    (1 − p_y) · NCKD. (A check that DKD decouples KD and nothing else.)"""
    tau = 3.0
    inputs = make_inputs(
        teacher_logits=[T], student_logits=[S], labels=[np.eye(4)[Y]]
    )
    dkd = losses.DKD(alpha=1.0, beta=1.0, temperature=tau).compute(inputs)
    kd_value = losses.KD(tau).compute(inputs)["kd_loss"]
    p_y = _softmax([v / tau for v in T])[Y]
    np.testing.assert_allclose(
        kd_value, dkd["tckd_loss"] + (1 - p_y) * dkd["nckd_loss"], rtol=1e-4
    )


def test_standardized_kd_matches_hand_computation_and_ignores_scale():
    def z(x):
        mean = sum(x) / len(x)
        std = math.sqrt(sum((v - mean) ** 2 for v in x) / (len(x) - 1))
        return [(v - mean) / std for v in x]

    tau = 2.0
    expected = tau**2 * _kl(
        _softmax([v / tau for v in z(T)]), _softmax([v / tau for v in z(S)])
    )
    loss = losses.KD(tau, standardize=True)
    got = loss.compute(make_inputs(teacher_logits=[T], student_logits=[S]))
    np.testing.assert_allclose(got["kd_loss"], [expected], rtol=1e-4)
    # A student with the teacher's logits times 5 plus 3 matches exactly.
    scaled = [5 * v + 3 for v in T]
    same = loss.compute(
        make_inputs(teacher_logits=[T], student_logits=[scaled])
    )
    np.testing.assert_allclose(same["kd_loss"], [0.0], atol=1e-6)
    plain = losses.KD(tau).compute(
        make_inputs(teacher_logits=[T], student_logits=[scaled])
    )
    assert float(plain["kd_loss"][0]) > 0.1


def test_warm_up_ramps_the_loss_over_training_steps():
    loss = losses.DKD(warmup_steps=4)
    inputs = make_inputs(
        teacher_logits=[T], student_logits=[S], labels=[np.eye(4)[Y]]
    )
    full = losses.DKD().compute(inputs)["nckd_loss"]
    training = inputs.__class__(**{**inputs.__dict__, "training": True})
    ramp = [
        float(loss.compute(training)["nckd_loss"][0] / full[0])
        for _ in range(6)
    ]
    np.testing.assert_allclose(ramp, [0.25, 0.5, 0.75, 1, 1, 1], rtol=1e-5)
    # Evaluation neither counts nor ramps further.
    assert float(loss.compute(inputs)["nckd_loss"][0]) == pytest.approx(
        float(full[0]), rel=1e-5
    )
    assert float(loss.steps) == 6


def test_wrong_types_are_named():
    with pytest.raises(TypeError, match=r"Received: warmup_steps=2.5 of"):
        losses.DKD(warmup_steps=2.5)
    with pytest.raises(TypeError, match=r"Received: standardize=1"):
        losses.DKD(standardize=1)


def test_gradient_reaches_the_student_only():
    t = tf.constant([T])
    s = tf.Variable([S])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(t)
        out = losses.DKD(temperature=2.0).compute(
            losses.LossInputs(
                labels=tf.constant([np.eye(4)[Y]], "float32"),
                teacher_logits=tf.stop_gradient(t),
                student_logits=s,
                teacher_features={},
                student_features={},
                training=True,
            )
        )
        total = out["tckd_loss"] + out["nckd_loss"]
    assert np.abs(tape.gradient(total, s).numpy()).sum() > 0
    assert tape.gradient(total, t) is None


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"beta": -1.0}, r"Received: beta=-1.0"),
        ({"temperature": 0.0}, r"Received: temperature=0.0"),
        ({"warmup_steps": -1}, r"Received: warmup_steps=-1"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        losses.DKD(**kwargs)


def test_by_name_config_round_trip_and_fit():
    assert {"dkd", "kd"} <= set(losses.names())
    loss = losses.get("dkd", beta=2.0, warmup_steps=10)
    assert isinstance(loss, losses.DKD) and loss.beta == 2.0
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss)
    )
    assert clone.get_config() == loss.get_config()
    with pytest.raises(ValueError, match=r"already registered, for DKD"):
        losses.register("dkd")(losses.KD)

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 64)
    x = (rng.random((64, 6)) + np.eye(6)[y] * 0.5).astype("float32") / 1.5

    def net(units):
        keras.utils.set_random_seed(units)
        return keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(units, activation="relu"),
                keras.layers.Dense(3),
            ]
        )

    teacher = net(16)
    teacher.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    teacher.fit(x, y, epochs=20, verbose=0)
    distiller = kd.Distiller(
        teacher, net(4), losses=["dkd", losses.KD(2.0, standardize=True)]
    )
    distiller.compile(keras.optimizers.Adam(0.02))
    logs = distiller.fit(x, y, batch_size=16, epochs=6, verbose=0).history
    assert logs["nckd_loss"][-1] < logs["nckd_loss"][0]
    assert logs["kd_loss"][-1] < logs["kd_loss"][0]
