import json
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import kd_toolkit as kd
from kd_toolkit.adaptation import Replacement
from kd_toolkit.adaptation import adapt_teacher
from kd_toolkit.adaptation import warm_up
from kd_toolkit.losses import ActivationMapAdaptation
from kd_toolkit.losses import LossInputs
from tests.adaptation.toy_models import randomize_bn
from tests.adaptation.toy_models import tiny_resnet
from tests.adaptation.toy_models import toy_data

REP = Replacement("block1_out", "block3_out", student_layer="block2_out")


def _inputs(a, s, t_logits, labels, training=False):
    return LossInputs(
        labels=tf.constant(labels, "float32"),
        teacher_logits=t_logits,
        student_logits=None,
        teacher_features={REP.adapter_name: a},
        student_features={"block2_out": s},
        training=training,
    )


def _attention(x, p=2.0):
    a = np.mean(np.abs(x) ** p, axis=-1).reshape(len(x), -1)
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def test_terms_match_hand_computation():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 2, 2, 3)).astype("float32")
    s = rng.normal(size=(2, 4, 4, 2)).astype("float32")  # pooled to 2x2
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]], "float32")
    labels = np.array([[1, 0, 0], [0, 0, 1]], "float32")
    loss = ActivationMapAdaptation(
        [REP], map_weight=3.0, gamma=0.5, adapter_ce_weight=2.0
    )
    loss.build_from_features(
        {REP.adapter_name: a.shape}, {"block2_out": s.shape}
    )
    out = loss.compute(_inputs(a, s, logits, labels))
    pooled = s.reshape(2, 2, 2, 2, 2, 2).mean(axis=(2, 4))
    dist = np.sum((_attention(pooled) - _attention(a)) ** 2, axis=-1)
    np.testing.assert_allclose(out["ama_map_loss"], 3.0 * dist, rtol=1e-5)
    np.testing.assert_allclose(out["adapter_map_loss"], 0.5 * dist, rtol=1e-5)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ce = -(labels * log_p).sum(-1)
    np.testing.assert_allclose(out["adapter_ce_loss"], 2.0 * ce, rtol=1e-5)
    assert float(loss.accuracy.result()) == pytest.approx(0.5)
    mean_loss = ActivationMapAdaptation([REP], map_weight=3.0, reduction="mean")
    mean_out = mean_loss.compute(_inputs(a, s, logits, labels))
    np.testing.assert_allclose(
        mean_out["ama_map_loss"], 3.0 * dist / 4, rtol=1e-5
    )


@pytest.mark.parametrize("map_loss", ["attention", "feature"])
def test_each_side_only_gets_its_own_gradient(map_loss):
    rng = np.random.default_rng(0)
    a = tf.constant(rng.normal(size=(2, 4, 4, 6)), "float32")
    s = tf.constant(rng.normal(size=(2, 8, 8, 3)), "float32")
    t = tf.constant(rng.normal(size=(2, 3)), "float32")
    loss = ActivationMapAdaptation([REP], map_loss=map_loss)
    loss.build_from_features(
        {REP.adapter_name: a.shape}, {"block2_out": s.shape}
    )
    if map_loss == "feature":
        assert tuple(loss.connectors[0].output_shape[1:]) == (4, 4, 6)
    labels = np.eye(3)[[0, 2]]
    grads = {}
    for term in loss.metric_names():
        with tf.GradientTape() as tape:
            tape.watch([a, s, t])
            out = loss.compute(_inputs(a, s, t, labels, training=True))
            value = tf.reduce_sum(out[term])
        grads[term] = dict(zip("ast", tape.gradient(value, [a, s, t])))

    def moved(g):
        return g is not None and float(tf.reduce_max(tf.abs(g))) > 0

    assert not moved(grads["ama_map_loss"]["a"])
    assert moved(grads["ama_map_loss"]["s"])
    assert moved(grads["adapter_map_loss"]["a"])
    assert not moved(grads["adapter_map_loss"]["s"])
    assert moved(grads["adapter_ce_loss"]["t"])
    assert not moved(grads["adapter_ce_loss"]["a"])


def _distiller(losses, seed=0):
    teacher = randomize_bn(tiny_resnet(), seed)
    adapted = adapt_teacher(teacher, [REP])
    student = tiny_resnet("student", width=4)
    distiller = kd.Distiller(adapted.model, student, losses=losses(adapted))
    distiller.compile(keras.optimizers.Adam(1e-2), metrics=["accuracy"])
    return teacher, adapted, student, distiller


def _snapshot(variables):
    return [v.numpy().copy() for v in variables]


def _changed(before, variables):
    return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)]


def test_joint_training_updates_adapters_and_student_only():
    teacher, adapted, student, distiller = _distiller(
        lambda ad: [kd.losses.KD(4.0), ActivationMapAdaptation(ad.replacements)]
    )
    x, y = toy_data(64)
    frozen = _snapshot(teacher.weights)
    adapters = _snapshot(adapted.model.trainable_weights)
    students = _snapshot(student.trainable_weights)
    history = distiller.fit(
        x, y, batch_size=16, epochs=2, verbose=0, validation_data=(x, y)
    )
    logs = history.history
    for key in (
        "ama_map_loss",
        "adapter_ce_loss",
        "adapter_map_loss",
        "adapted_teacher_acc",
        "kd_loss",
        "student_loss",
        "val_adapted_teacher_acc",
        "val_ama_map_loss",
    ):
        assert key in logs and np.all(np.isfinite(logs[key])), key
    assert not any(_changed(frozen, teacher.weights))
    assert all(_changed(adapters, adapted.model.trainable_weights))
    assert all(_changed(students, student.trainable_weights))
    assert {id(v) for v in distiller.trainable_weights} == {
        id(v)
        for v in adapted.model.trainable_weights + student.trainable_weights
    }
    # The metric is the adapted teacher's top-1 in inference mode.
    expected = np.mean(np.argmax(adapted.model(x), -1) == y)
    assert logs["val_adapted_teacher_acc"][-1] == pytest.approx(expected)


@pytest.mark.parametrize(
    "ama_kwargs, adapters_move",
    [
        (dict(map_weight=0.0, gamma=0.0, adapter_ce_weight=0.0), False),
        (dict(map_weight=5.0, gamma=0.0, adapter_ce_weight=0.0), False),
        (dict(map_weight=0.0, gamma=0.0, adapter_ce_weight=1.0), True),
    ],
)
def test_only_adapter_terms_reach_the_adapters(ama_kwargs, adapters_move):
    # KD (and the student-side map term) see the adapted teacher under
    # stop-gradient: with the adapter terms off, adapters stay bit-identical.
    _, adapted, student, distiller = _distiller(
        lambda ad: [
            kd.losses.KD(4.0),
            ActivationMapAdaptation(ad.replacements, **ama_kwargs),
        ]
    )
    x, y = toy_data(32)
    adapters = _snapshot(adapted.model.trainable_weights)
    students = _snapshot(student.trainable_weights)
    distiller.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert any(_changed(adapters, adapted.model.trainable_weights)) is (
        adapters_move
    )
    assert all(_changed(students, student.trainable_weights))


def test_cached_teacher_logits_teach_while_the_adapted_teacher_runs():
    # "ama_cached": KD reads the original teacher's cached logits (here
    # replaced by fixed logits no model gives), while the adapted teacher
    # still runs for its maps and trains on its own CE.
    teacher, adapted, student, distiller = _distiller(
        lambda ad: [kd.losses.KD(1.0), ActivationMapAdaptation(ad.replacements)]
    )
    x, y = toy_data(32)
    cache = kd.TeacherLogitsCache.build(teacher, x, verbose=False)
    fixed = np.array([2.0, 0.0, -1.0], dtype=np.float32)
    cache.outputs[:] = fixed
    logs = distiller.evaluate(
        cache.dataset(x, y, batch_size=32, shuffle=False),
        verbose=0,
        return_dict=True,
    )
    p = np.exp(fixed - np.log(np.sum(np.exp(fixed.astype(np.float64)))))
    log_q = keras.ops.log_softmax(student(x)).numpy().astype(np.float64)
    assert logs["kd_loss"] == pytest.approx(
        np.mean(np.sum(p * (np.log(p) - log_q), axis=-1)), rel=1e-4
    )
    t_tilde = adapted.model(x).numpy().astype(np.float64)
    log_t = t_tilde - np.log(np.sum(np.exp(t_tilde), -1, keepdims=True))
    assert logs["adapter_ce_loss"] == pytest.approx(
        -np.mean(log_t[np.arange(len(y)), y]), rel=1e-4
    )
    assert logs["adapted_teacher_acc"] == pytest.approx(
        np.mean(np.argmax(t_tilde, -1) == y)
    )
    frozen = _snapshot(teacher.weights)
    adapters = _snapshot(adapted.model.trainable_weights)
    distiller.fit(cache.dataset(x, y, batch_size=16), epochs=1, verbose=0)
    assert not any(_changed(frozen, teacher.weights))
    assert all(_changed(adapters, adapted.model.trainable_weights))


def test_config_round_trip_and_registry():
    loss = ActivationMapAdaptation(
        [REP, Replacement("stem_out", "block1_out")],
        map_loss="feature",
        map_weight=2.0,
        gamma=0.3,
        adapter_ce_weight=0.7,
        p=1.0,
        reduction="mean",
        name="my_ama",
    )
    config = loss.get_config()
    assert "weight" not in config
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss)
    )
    assert isinstance(clone, ActivationMapAdaptation)
    assert clone.get_config() == config
    assert clone.replacements == loss.replacements
    assert clone.pairs == ((REP.adapter_name, "block2_out"),)
    assert isinstance(
        kd.losses.get("ama", replacements=[REP]), ActivationMapAdaptation
    )
    assert ActivationMapAdaptation.trains_teacher


def test_distiller_with_ama_saves_and_loads(tmp_path):
    *_, distiller = _distiller(
        lambda ad: [
            kd.losses.KD(4.0),
            ActivationMapAdaptation(ad.replacements, map_loss="feature"),
        ]
    )
    x, y = toy_data(32)
    distiller.fit(x, y, batch_size=16, epochs=1, verbose=0)
    path = tmp_path / "distiller.keras"
    distiller.save(path)
    loaded = keras.saving.load_model(path)
    loss = loaded.distillation_losses[1]
    assert isinstance(loss, ActivationMapAdaptation)
    assert loss.map_loss == "feature" and len(loss.connectors) == 1
    loaded.compile("adam")
    before = distiller.evaluate(x, y, verbose=0, return_dict=True)
    after = loaded.evaluate(x, y, verbose=0, return_dict=True)
    for key in (
        "ama_map_loss",
        "adapter_ce_loss",
        "adapter_map_loss",
        "adapted_teacher_acc",
        "loss",
    ):
        assert after[key] == pytest.approx(before[key], rel=1e-5), key


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            dict(replacements=[Replacement("a", "b")]),
            ValueError,
            "student_layer",
        ),
        (dict(replacements=REP), ValueError, "list of Replacement"),
        (dict(replacements=[("a", "b")]), TypeError, "Replacement"),
        (
            dict(replacements=[REP], map_loss="l2"),
            ValueError,
            r"\['attention', 'feature'\].*map_loss='l2'",
        ),
        (
            dict(replacements=[REP], reduction="max"),
            ValueError,
            r"\['sum', 'mean'\]",
        ),
        (dict(replacements=[REP], gamma=-1.0), ValueError, "gamma=-1.0"),
        (
            dict(replacements=[REP], map_weight=float("nan")),
            ValueError,
            "weight",
        ),
        (dict(replacements=[REP], weight=2.0), TypeError, "map_weight"),
        (dict(replacements=[REP], p=0.0), ValueError, "p"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        ActivationMapAdaptation(**kwargs)


def test_maps_must_be_four_dimensional():
    loss = ActivationMapAdaptation([REP])
    with pytest.raises(ValueError, match="4-D activation maps"):
        loss.build_from_features(
            {REP.adapter_name: (None, 16)}, {"block2_out": (None, 4, 4, 8)}
        )


MIRRORED = r"""
import json
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import numpy as np
import kd_toolkit as kd
from tests.adaptation.toy_models import randomize_bn, tiny_resnet, toy_data
x, y = toy_data(64)
keras.utils.set_random_seed(0)
with tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope():
    adapted = kd.adaptation.adapt_teacher(
        randomize_bn(tiny_resnet()), [kd.adaptation.Replacement(
            "block1_out", "block3_out", "block2_out")])
    distiller = kd.Distiller(
        adapted.model, tiny_resnet("s", width=4), losses=[
            kd.losses.KD(2.0),
            kd.losses.ActivationMapAdaptation(adapted.replacements)])
    distiller.compile(keras.optimizers.SGD(0.05))
logs = distiller.fit(x, y, batch_size=32, epochs=2, verbose=0,
                     validation_data=(x, y)).history
direct = np.mean(np.argmax(adapted.model.predict(x, verbose=0), -1) == y)
print(json.dumps({"logs": {k: v[-1] for k, v in logs.items()},
                  "direct": float(direct)}))
"""


@pytest.mark.slow
def test_mirrored_strategy_reports_the_adapted_teacher_accuracy():
    # A subprocess: logical devices must be set before TensorFlow starts.
    root = pathlib.Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["logs"]["val_adapted_teacher_acc"] == pytest.approx(
        out["direct"]
    )
    assert all(np.isfinite(v) for v in out["logs"].values())


@pytest.mark.slow
def test_fashion_mnist_end_to_end():
    keras.utils.set_random_seed(0)
    x, y = kd.data.load_numpy(
        "fashion_mnist", "train", source="local", limit=4000
    )
    xt, yt = kd.data.load_numpy(
        "fashion_mnist", "test", source="local", limit=1000
    )
    teacher = kd.models.resnet("resnet8", input_shape=(28, 28, 1))
    teacher.compile(
        keras.optimizers.Adam(2e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    teacher.fit(x, y, batch_size=64, epochs=1, verbose=0)
    teacher_acc = teacher.evaluate(xt, yt, verbose=0)[1]
    frozen = _snapshot(teacher.weights)
    adapted = adapt_teacher(
        teacher,
        [
            Replacement(
                "stage2_out", "stage3_block1_out", student_layer="stage3_out"
            )
        ],
    )
    cost = adapted.cost()
    assert cost.macs_ratio < 0.8

    def accuracy(model):
        return np.mean(np.argmax(model.predict(xt, verbose=0), -1) == yt)

    data = tf.data.Dataset.from_tensor_slices(x).shuffle(4000, seed=0)
    report = warm_up(adapted, data.batch(64), steps=100, log_every=25)
    assert report.final_mse < 0.5 * report.initial_mse
    warm_acc = accuracy(adapted.model)
    student = kd.models.resnet("resnet8", input_shape=(28, 28, 1), base_width=4)
    distiller = kd.Distiller(
        adapted.model,
        student,
        losses=[
            kd.losses.KD(4.0),
            ActivationMapAdaptation(adapted.replacements),
        ],
    )
    distiller.compile(keras.optimizers.Adam(2e-3), metrics=["accuracy"])
    logs = distiller.fit(
        x, y, batch_size=64, epochs=1, verbose=0, validation_data=(xt, yt)
    ).history
    print(
        f"teacher {teacher_acc:.3f}, adapted after warm-up {warm_acc:.3f},"
        f" after distillation {logs['val_adapted_teacher_acc'][-1]:.3f}, "
        f"student {logs['val_accuracy'][-1]:.3f}; {report}\n{cost}"
    )
    assert teacher_acc > 0.6
    assert warm_acc > 0.5  # chance is 0.1
    assert logs["val_adapted_teacher_acc"][-1] > teacher_acc - 0.1
    assert logs["val_accuracy"][-1] > 0.25
    assert not any(_changed(frozen, teacher.weights))
