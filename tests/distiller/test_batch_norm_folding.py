"""Tests of batch-norm folding for the frozen teacher."""

import keras
import numpy as np
import pytest
from keras import layers

import kd_toolkit as kd
from kd_toolkit.distiller import batch_norm_folding as bnf


def _randomise_batch_norm(model, seed=0):
    """Non-trivial statistics, so that a wrong fold shows."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            for var, low, high in (
                (layer.moving_mean, -1.0, 1.0),
                (layer.moving_variance, 0.3, 2.0),
                (layer.gamma, 0.5, 1.5),
                (layer.beta, -0.5, 0.5),
            ):
                if var is not None:
                    var.assign(rng.uniform(low, high, var.shape))
    return model


def _net():
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(6, 3, padding="same", use_bias=False, name="c1")(inputs)
    x = layers.BatchNormalization(name="b1")(x)
    x = layers.ReLU(name="r1")(x)
    x = layers.DepthwiseConv2D(
        3, depth_multiplier=2, padding="same", use_bias=False, name="dw"
    )(x)
    x = layers.BatchNormalization(name="b2")(x)
    x = layers.ReLU(name="r2")(x)
    # With a bias, strided, and a batch norm with no γ and β.
    x = layers.Conv2D(8, 3, strides=2, padding="same", name="c3")(x)
    x = layers.BatchNormalization(center=False, scale=False, name="b3")(x)
    # Not foldable: the activation sits between convolution and batch norm.
    x = layers.Conv2D(8, 1, activation="relu", name="c4")(x)
    x = layers.BatchNormalization(name="b4")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return _randomise_batch_norm(
        keras.Model(inputs, layers.Dense(5, name="logits")(x), name="net")
    )


def _assert_same_outputs(folded, model, x, rtol, atol):
    """Both models give the same outputs in inference mode."""
    np.testing.assert_allclose(
        folded(x, training=False).numpy(),
        model(x, training=False).numpy(),
        rtol=rtol,
        atol=atol,
    )


def _inputs(n=4, shape=(8, 8, 3)):
    return np.random.default_rng(1).random((n,) + shape, dtype=np.float32)


def test_folded_graph_computes_the_same_function_from_shared_variables():
    model = _net()
    assert bnf.foldable_pairs(model) == {"b1": "c1", "b2": "dw", "b3": "c3"}
    folded = bnf.fold_batch_norm(model)
    x = _inputs()
    _assert_same_outputs(folded, model, x, rtol=1e-5, atol=1e-5)
    # No variable of its own: it reads the model's.
    assert {id(v) for v in folded.weights} <= {id(v) for v in model.weights}
    # Every layer keeps its name (the input layer is a new one).
    assert [layer.name for layer in folded.layers[1:]] == [
        layer.name for layer in model.layers[1:]
    ]
    assert isinstance(folded.get_layer("c1"), bnf.FoldedConvBatchNorm)
    assert isinstance(folded.get_layer("c4"), layers.Conv2D)
    # The teacher's weights change later (a load, a restore): the folded
    # graph follows, it never holds a stale copy.
    _randomise_batch_norm(model, seed=7)
    model.get_layer("c1").kernel.assign(
        model.get_layer("c1").kernel.numpy() * 2.0
    )
    _assert_same_outputs(folded, model, x, rtol=1e-5, atol=1e-5)


def test_pairs_that_must_not_fold():
    model = _net()
    # A layer someone reads (a feature tap) keeps its own output.
    assert "b1" not in bnf.foldable_pairs(model, keep=["c1"])
    assert "b2" not in bnf.foldable_pairs(model, keep=["b2"])
    # A convolution whose output also goes elsewhere.
    inputs = keras.Input((8, 8, 3))
    c = layers.Conv2D(4, 3, padding="same", name="c")(inputs)
    b = layers.BatchNormalization(name="b")(c)
    shared = keras.Model(inputs, layers.Add()([c, b]))
    assert bnf.foldable_pairs(shared) == {}
    assert bnf.fold_batch_norm(shared) is shared
    # Channels-first batch norm (axis 1) is left alone.
    inputs = keras.Input((8, 8, 3))
    c = layers.Conv2D(4, 3, padding="same", name="c")(inputs)
    first = keras.Model(inputs, layers.BatchNormalization(axis=1)(c))
    assert bnf.foldable_pairs(first) == {}


def test_sequential_models_fold():
    model = _randomise_batch_norm(
        keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                layers.Conv2D(4, 3, name="c"),
                layers.BatchNormalization(name="b"),
                layers.ReLU(),
                layers.Flatten(),
                layers.Dense(3),
            ]
        )
    )
    folded = bnf.fold_batch_norm(model)
    assert isinstance(folded.layers[0], bnf.FoldedConvBatchNorm)
    x = _inputs(shape=(8, 8, 1))
    _assert_same_outputs(folded, model, x, rtol=1e-5, atol=1e-6)


def test_nested_models_fold_inside():
    # The transfer-learning shape: a backbone model under a new head, and
    # an ensemble of such teachers.
    backbone = _net()
    inputs = keras.Input((8, 8, 3))
    head = layers.Dense(2, name="head")(backbone(inputs, training=False))
    model = keras.Model(inputs, head, name="with_head")
    folded = bnf.fold_batch_norm(model)
    inner = folded.get_layer("net")
    assert inner is not backbone
    assert isinstance(inner.get_layer("c1"), bnf.FoldedConvBatchNorm)
    assert folded.get_layer("head") is model.get_layer("head")
    x = _inputs()
    _assert_same_outputs(folded, model, x, rtol=1e-5, atol=1e-5)
    # The ensemble's teachers fold; its own output is unchanged.
    other = _net()
    second = keras.Model(other.inputs[0], other.outputs[0], name="net_2")
    ensemble = kd.teacher_ensemble([backbone, second])
    folded = bnf.fold_batch_norm(ensemble)
    for name in ("net", "net_2"):
        assert isinstance(
            folded.get_layer(name).get_layer("dw"), bnf.FoldedConvBatchNorm
        )
    _assert_same_outputs(folded, ensemble, x, rtol=1e-5, atol=1e-5)
    # Nothing to fold anywhere: the model itself comes back.
    plain = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
    outer = keras.Sequential([keras.Input((3,)), plain, layers.Dense(1)])
    assert bnf.fold_batch_norm(outer) is outer


def test_keras_applications_mobilenet_v2_folds():
    model = keras.applications.MobileNetV2(
        input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=10
    )
    _randomise_batch_norm(model)
    pairs = bnf.foldable_pairs(model)
    batch_norms = [
        layer
        for layer in model.layers
        if isinstance(layer, layers.BatchNormalization)
    ]
    assert len(pairs) == len(batch_norms) == 52
    x = _inputs(shape=(32, 32, 3))
    folded = bnf.fold_batch_norm(model)
    _assert_same_outputs(folded, model, x, rtol=1e-4, atol=1e-6)


def _resnet_teacher():
    teacher = kd.models.get("resnet8", input_shape=(8, 8, 3), num_classes=5)
    return _randomise_batch_norm(teacher)


@pytest.mark.parametrize("hint", [False, True], ids=["kd", "kd_hint"])
def test_the_distiller_folds_the_frozen_teacher(hint):
    teacher = _resnet_teacher()
    student = kd.models.get("resnet8", input_shape=(8, 8, 3), num_classes=5)
    x, y = _inputs(n=16), np.arange(16) % 5
    logs = {}
    for fold in (True, False):
        losses = [kd.losses.KD(2.0)]
        if hint:
            keras.utils.set_random_seed(0)  # the same connector both times
            losses.append(kd.losses.Hint("stage2_out", "stage2_out"))
        distiller = kd.Distiller(
            teacher,
            student,
            losses=losses,
            fold_teacher_batch_norm=fold,
            check_teacher=False,
        )
        assert (distiller._teacher_source.folded is not None) == fold
        distiller.compile("sgd")
        logs[fold] = distiller.evaluate(
            x, y, batch_size=16, verbose=0, return_dict=True
        )
    assert set(logs[True]) == set(logs[False])
    for key, value in logs[False].items():
        assert logs[True][key] == pytest.approx(value, rel=1e-4, abs=1e-6)
    config = distiller.get_config()
    assert config["fold_teacher_batch_norm"] is False
    assert kd.Distiller.from_config(config).fold_teacher_batch_norm is False


class _TrainsTeacher(kd.losses.DistillationLoss):
    """A loss that trains the teacher (as AMA's adapters do): it pulls the
    teacher's logits towards the student's."""

    trains_teacher = True

    def metric_names(self):
        return ("pull_loss",)

    def compute(self, inputs):
        diff = inputs.teacher_logits - inputs.student_logits
        return {"pull_loss": self.weight * keras.ops.mean(diff**2, axis=-1)}


def test_a_trained_teacher_is_not_folded():
    # Batch norm in training mode has no fixed affine map to fold; the
    # Distiller runs such a teacher as it is.
    teacher = _resnet_teacher()
    student = kd.models.get("resnet8", input_shape=(8, 8, 3), num_classes=5)
    distiller = kd.Distiller(
        teacher, student, losses=[_TrainsTeacher()], check_teacher=False
    )
    assert distiller._teacher_source.folded is None
    distiller.compile("sgd")
    before = teacher.get_layer("logits").kernel.numpy().copy()
    distiller.fit(_inputs(n=8), np.arange(8) % 5, epochs=1, verbose=0)
    assert np.abs(teacher.get_layer("logits").kernel.numpy() - before).max() > 0
