"""The contract every registered loss keeps, checked over `losses.names()`:
its config and a `.keras` file round trip, it returns one `(batch,)` term
per declared metric, its gradients reach the student (and the teacher only
when it declares `trains_teacher`), it runs under a bfloat16 policy, and
it has an XLA case. A new loss is held to it by registering: it needs only
a case in `CASES` (the test says so)."""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

import kd_toolkit as kd
from kd_toolkit import losses
from kd_toolkit.losses.base import LossInputs
from tests.adaptation import toy_models
from tests.distiller import test_xla

CLASSES = 3


def _plain(make_loss):
    def case():
        teacher = toy_models.randomize_bn(toy_models.tiny_resnet())
        return teacher, make_loss()

    return case


def _ama():
    teacher = toy_models.randomize_bn(toy_models.tiny_resnet())
    adapted = kd.adaptation.adapt_teacher(
        teacher,
        [
            kd.adaptation.Replacement(
                start="block1_out", end="block3_out", student_layer="block2_out"
            )
        ],
    )
    return adapted.model, kd.losses.ActivationMapAdaptation(
        adapted.replacements
    )


# One small instance of every registered loss on tiny_resnet's layers
# (block1_out 8x8, block2_out 4x4, pool).
CASES = {
    "kd": _plain(lambda: kd.losses.KD(2.0)),
    "dkd": _plain(lambda: kd.losses.DKD(warmup_steps=2)),
    "hint": _plain(lambda: kd.losses.Hint("block2_out", "block2_out")),
    "attention_transfer": _plain(
        lambda: kd.losses.AttentionTransfer([("block2_out", "block2_out")])
    ),
    "rkd": _plain(lambda: kd.losses.RKD("pool", "pool")),
    "sp": _plain(
        lambda: kd.losses.SimilarityPreserving("block2_out", "block2_out")
    ),
    "pkt": _plain(lambda: kd.losses.PKT("pool", "pool")),
    "crd": _plain(lambda: kd.losses.CRD("pool", "pool", feat_dim=8)),
    "review_kd": _plain(
        lambda: kd.losses.ReviewKD(
            [("block1_out", "block1_out"), ("block2_out", "block2_out")]
        )
    ),
    "ama": _ama,
}
NAMES = sorted(CASES)


def test_every_registered_loss_has_a_case():
    missing = sorted(set(losses.names()) - set(CASES))
    assert not missing, f"add a contract case for {missing}"
    assert set(CASES) == set(losses.names())
    # XLA: every loss but AMA (tests/distiller/test_xla.py tests its
    # adapters apart) in test_xla's table.
    covered = {
        type(loss).__name__
        for make in test_xla.LOSSES.values()
        for loss in make()
    }
    for name in losses.names():
        if name != "ama":
            assert losses.get_class(name).__name__ in covered, name


def _data(n=32):
    return toy_models.toy_data(n)


def _distiller(name):
    keras.utils.set_random_seed(0)
    teacher, loss = CASES[name]()
    student = toy_models.tiny_resnet("student", width=4)
    distiller = kd.Distiller(teacher, student, losses=[loss])
    distiller.compile(keras.optimizers.Adam(0.01))
    return distiller, loss


@pytest.mark.parametrize("name", NAMES)
def test_config_is_the_constructor_arguments_and_round_trips(name):
    _, loss = CASES[name]()
    config = loss.get_config()
    params = set(inspect.signature(type(loss).__init__).parameters)
    assert set(config) - {"name"} <= params, set(config) - params
    again = type(loss).from_config(config)
    assert again.get_config() == config
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss)
    )
    assert type(clone) is type(loss) and clone.get_config() == config


def _features(model, names, x):
    if not names:
        return {}
    view = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    out = view(x, training=False)
    out = out if isinstance(out, (list, tuple)) else [out]
    return dict(zip(names, out))


@pytest.mark.parametrize("name", NAMES)
def test_terms_gradients_and_a_keras_file(name, tmp_path):
    distiller, loss = _distiller(name)
    x, y = _data()
    teacher_before = [w.copy() for w in distiller.teacher.get_weights()]
    history = distiller.fit(x, y, batch_size=16, epochs=1, verbose=0)
    for metric in loss.metric_names():
        assert metric in history.history, (metric, list(history.history))
    # The teacher is untouched unless the loss trains parts of it.
    if not loss.trains_teacher:
        for a, b in zip(teacher_before, distiller.teacher.get_weights()):
            np.testing.assert_array_equal(a, b)

    # One (batch,) term per declared metric; gradients reach the student.
    xb = tf.constant(x[:8])
    teacher, student = distiller.teacher, distiller.student
    t_feats = _features(teacher, loss.teacher_feature_names(), xb)
    with tf.GradientTape() as tape:
        s_logits = student(xb, training=True)
        s_feats = _features(student, loss.student_feature_names(), xb)
        t_logits = teacher(xb, training=False)
        terms = loss.compute(
            LossInputs(
                labels=tf.one_hot(y[:8], CLASSES),
                teacher_logits=tf.stop_gradient(t_logits),
                student_logits=s_logits,
                teacher_features={
                    k: tf.stop_gradient(v) for k, v in t_feats.items()
                },
                student_features=s_feats,
                training=True,
                live_teacher_logits=tf.stop_gradient(t_logits),
            )
        )
        total = tf.add_n([tf.reduce_sum(v) for v in terms.values()])
    assert set(terms) == set(loss.metric_names())
    for key, value in terms.items():
        assert tuple(value.shape) == (8,), (key, value.shape)
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(value))), key
    grads = tape.gradient(total, student.trainable_variables)
    assert any(
        g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads
    ), "no gradient reaches the student"

    path = tmp_path / "distiller.keras"
    distiller.save(path)
    restored = keras.models.load_model(path)
    (again,) = restored.distillation_losses
    assert type(again) is type(loss)
    assert again.get_config() == loss.get_config()
    for a, b in zip(loss.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def bfloat16_policy():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    yield
    keras.config.set_dtype_policy(previous)


@pytest.mark.parametrize("name", NAMES)
def test_runs_under_a_bfloat16_policy(name, bfloat16_policy):
    distiller, loss = _distiller(name)
    assert distiller.student.compute_dtype == "bfloat16"
    x, y = _data()
    history = distiller.fit(x, y, batch_size=16, epochs=1, verbose=0)
    for metric in ("loss", *loss.metric_names()):
        assert np.isfinite(history.history[metric][-1]), metric
