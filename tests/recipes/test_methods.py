"""The recipes' feature methods on models without the zoo's layer names:
they fall back to the layer-pair proposal and report the pairs chosen."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

import kd_toolkit as kd
from kd_toolkit.recipes import methods


def _residual_net(name, width):
    """A small residual network with its own layer names (no stage{i}_out),
    as a user's or a keras.applications model has."""
    inputs = keras.Input((8, 8, 1))
    x = layers.Conv2D(width, 3, padding="same", name=f"{name}_stem")(inputs)
    for i, stride in enumerate((1, 2), start=1):
        h = layers.Conv2D(width, 3, strides=stride, padding="same")(x)
        h = layers.BatchNormalization()(h)
        shortcut = x if stride == 1 else layers.Conv2D(width, 1, strides=2)(x)
        x = layers.ReLU(name=f"{name}_block{i}")(layers.Add()([h, shortcut]))
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(3)(x), name=name)


def _train_ds():
    rng = np.random.default_rng(0)
    x = rng.random((32, 8, 8, 1), dtype=np.float32)
    return tf.data.Dataset.from_tensor_slices((x, np.arange(32) % 3)).batch(8)


@pytest.mark.parametrize("name", ["fitnets", "at", "review_kd", "ama"])
def test_feature_methods_fall_back_to_proposed_pairs(name, capsys):
    keras.utils.set_random_seed(0)
    teacher, student = _residual_net("t", 8), _residual_net("s", 4)
    teacher.trainable = False
    settings = methods.MethodSettings()
    if name == "ama":
        settings = methods.MethodSettings(
            ama=methods.AMASettings(warmup_steps=2)
        )
    plan = methods.get(name).plan(
        settings, teacher, student, train_ds=_train_ds(), total_steps=8
    )
    out = capsys.readouterr().out
    if name == "ama":
        assert "adapting the teacher's block t_block1 -> t_block2" in out
        assert "to teach the student's s_block2" in out
    else:
        assert "share no stage{i}_out layers" in out
        pairs = [(p["teacher"], p["student"]) for p in plan.info["layer_pairs"]]
        assert pairs == [("t_block1", "s_block1"), ("t_block2", "s_block2")]
        assert all(p["why"] for p in plan.info["layer_pairs"])
    distiller = kd.Distiller(
        plan.teacher or teacher, student, losses=plan.losses
    )
    distiller.compile("adam")
    history = distiller.fit(_train_ds(), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_zoo_models_keep_their_stage_names():
    info = kd.data.dataset_info("fashion_mnist")
    teacher = kd.models.get("resnet8", info.input_shape, 10, base_width=8)
    student = kd.models.get("resnet8", info.input_shape, 10, base_width=4)
    pairs, info = methods.feature_pairs(teacher, student)
    assert pairs == [(f"stage{i}_out",) * 2 for i in (1, 2, 3)]
    assert info == {"layer_pairs": "stage{i}_out names"}
