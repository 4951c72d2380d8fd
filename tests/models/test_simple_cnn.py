"""Tests for kd_toolkit.models.simple_cnn."""

import keras
import numpy as np
import pytest

from kd_toolkit.models import simple_cnn
from tests.models import model_checks


@pytest.mark.parametrize("input_shape", [(28, 28, 1), (32, 32, 3)])
def test_builds_and_outputs_logits(input_shape):
    model = simple_cnn(input_shape=input_shape, num_classes=10)
    assert model.name == "simple_cnn"
    x = model_checks.random_images(input_shape)
    assert tuple(model(x, training=False).shape) == (2, 10)


def test_stage_names_shapes_and_hand_count():
    model = simple_cnn(
        input_shape=(28, 28, 1), num_classes=10, filters=(8, 16, 24)
    )
    shapes = [
        model.get_layer(f"stage{i}_out").output.shape[1:] for i in (1, 2, 3)
    ]
    # "same" pooling: 28 -> 14 -> 7 -> 4.
    assert shapes == [(14, 14, 8), (7, 7, 16), (4, 4, 24)]
    for i in (1, 2, 3):
        for suffix in ("conv", "bn", "relu", "pool"):
            model.get_layer(f"stage{i}_{suffix}")
    expected = (
        (9 * 1 * 8 + 2 * 8)
        + (9 * 8 * 16 + 2 * 16)
        + (9 * 16 * 24 + 2 * 24)
        + (24 * 10 + 10)
    )
    assert model_checks.trainable_count(model) == expected


def test_stage_outputs_are_cuts():
    model = simple_cnn(input_shape=(12, 12, 3))
    x = model_checks.random_images((12, 12, 3))
    for name in ("stage1_out", "stage2_out", "pool"):
        model_checks.assert_is_cut(model, name, x)


def test_save_load_round_trip(tmp_path):
    model = simple_cnn(
        input_shape=(12, 12, 1),
        num_classes=4,
        filters=(4, 8),
        weight_decay=1e-4,
    )
    x = model_checks.random_images((12, 12, 1), batch=4)
    model_checks.fit_one_step(model, x, num_classes=4)
    model_checks.assert_save_load_round_trip(model, tmp_path, x)


def test_training_reduces_loss_on_a_learnable_synthetic_task():
    # Class c has a bright c-th quadrant on noise: easy to learn.
    rng = np.random.default_rng(0)
    x = rng.random((64, 16, 16, 1), dtype=np.float32) * 0.3
    y = np.arange(64) % 4
    for c in range(4):
        rows, cols = divmod(c, 2)
        x[y == c, rows * 8 : rows * 8 + 8, cols * 8 : cols * 8 + 8] += 1.0
    model = simple_cnn(input_shape=(16, 16, 1), num_classes=4, filters=(8, 16))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(x, y, batch_size=32, epochs=10, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.6 * losses[0]


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"filters": ()}, r"Received: filters=\(\)"),
        ({"filters": (8, -1)}, r"Received: filters=\(8, -1\)"),
        (
            {"input_shape": (6, 6, 1), "filters": (8, 8, 8)},
            r"downsample by 8.*Received: input_shape=\(6, 6, 1\)",
        ),
        ({"input_shape": (28, 28, 1, 1)}, "rank-3"),
        ({"num_classes": 2.5}, "Received: num_classes=2.5"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simple_cnn(**kwargs)


def test_filters_must_be_a_tuple():
    with pytest.raises(TypeError, match="Received: filters=32 of type int"):
        simple_cnn(filters=32)
