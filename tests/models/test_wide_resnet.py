"""Tests for kd_toolkit.models.wide_resnet."""

import keras
import numpy as np
import pytest

from kd_toolkit.models import wide_resnet
from tests.models import model_checks


def expected_trainable(depth, k, channels, classes):
    """Trainable parameters of WRN-depth-k counted by hand: bias-free
    convs, BN gamma/beta, 1x1 projections without BN, final BN, dense."""
    total = 9 * channels * 16
    c_in = 16
    for i, stride in enumerate((1, 2, 2)):
        c_out = 16 * k * 2**i
        for j in range((depth - 4) // 6):
            total += 2 * c_in + 9 * c_in * c_out + 2 * c_out
            total += 9 * c_out * c_out
            if (stride if j == 0 else 1) != 1 or c_in != c_out:
                total += c_in * c_out
            c_in = c_out
    return total + 2 * c_in + c_in * classes + classes


@pytest.mark.parametrize("depth,k", [(10, 1), (16, 2), (22, 3), (40, 1)])
def test_trainable_count_matches_hand_count(depth, k):
    model = wide_resnet(depth, k, input_shape=(28, 28, 1), num_classes=5)
    assert model_checks.trainable_count(model) == expected_trainable(
        depth, k, channels=1, classes=5
    )


@pytest.mark.parametrize(
    "depth,k,published_millions",
    # CRD (ICLR 2020) table, CIFAR-100.
    [(40, 2, 2.26), (16, 2, 0.70), (40, 1, 0.57)],
)
def test_trainable_count_matches_published(depth, k, published_millions):
    model = wide_resnet(depth, k, num_classes=100)
    millions = model_checks.trainable_count(model) / 1e6
    assert abs(millions - published_millions) <= 0.005


def test_contract_names_and_shapes():
    model = wide_resnet(16, 2, input_shape=(28, 28, 1))
    names = {layer.name for layer in model.layers}
    assert {
        "stem_conv",
        "stem_out",
        "final_bn",
        "final_relu",
        "pool",
        "logits",
    } <= names
    assert "stem_bn" not in names
    assert not any(n.endswith("_dropout") for n in names)
    for i in (1, 2, 3):
        for j in (1, 2):
            for suffix in (
                "bn1",
                "relu1",
                "conv1",
                "bn2",
                "relu2",
                "conv2",
                "add",
                "out",
            ):
                assert f"stage{i}_block{j}_{suffix}" in names
    # Width 16 -> 32 makes stage 1 project too (k = 2).
    assert {n for n in names if n.endswith("_shortcut_conv")} == {
        f"stage{i}_block1_shortcut_conv" for i in (1, 2, 3)
    }
    shapes = [
        model.get_layer(f"stage{i}_out").output.shape[1:] for i in (1, 2, 3)
    ]
    assert shapes == [(28, 28, 32), (14, 14, 64), (7, 7, 128)]
    stage3 = model.get_layer("stage3_out")
    assert stage3.input is model.get_layer("final_relu").output
    stage2 = model.get_layer("stage2_out")
    assert stage2.input is model.get_layer("stage2_block2_out").output


def test_block_and_stage_outputs_are_cuts():
    model = wide_resnet(16, 1, input_shape=(16, 16, 3))
    x = model_checks.random_images((16, 16, 3))
    names = (
        ["stem_out"]
        + [f"stage{i}_block{j}_out" for i in (1, 2, 3) for j in (1, 2)]
        + [f"stage{i}_out" for i in (1, 2, 3)]
    )
    for name in names:
        model_checks.assert_is_cut(model, name, x)


def test_dropout_is_inside_blocks_and_active_in_training():
    model = wide_resnet(10, 1, input_shape=(8, 8, 3), dropout=0.5)
    assert isinstance(
        model.get_layer("stage1_block1_dropout"), keras.layers.Dropout
    )
    x = model_checks.random_images((8, 8, 3), batch=4)
    first = model(x, training=True).numpy()
    second = model(x, training=True).numpy()
    assert not np.allclose(first, second)
    np.testing.assert_array_equal(
        model(x, training=False).numpy(), model(x, training=False).numpy()
    )


def test_save_load_round_trip(tmp_path):
    model = wide_resnet(
        10,
        1,
        input_shape=(16, 16, 3),
        num_classes=3,
        dropout=0.2,
        weight_decay=2.5e-4,
    )
    x = model_checks.random_images((16, 16, 3), batch=4)
    model_checks.fit_one_step(model, x, num_classes=3)
    model_checks.assert_save_load_round_trip(model, tmp_path, x)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"depth": 18}, r"6n \+ 4.*Received: depth=18"),
        ({"depth": 4}, "Received: depth=4"),
        ({"depth": 0}, "Received: depth=0"),
        ({"width_factor": 0}, "Received: width_factor=0"),
        ({"dropout": 1.0}, r"\[0, 1\)\. Received: dropout=1.0"),
        ({"num_classes": 0}, "Received: num_classes=0"),
        ({"input_shape": (32, 32, 0)}, r"channels.*Received: input_shape"),
        ({"input_shape": (2, 2, 3)}, "at least 4"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    args = {"depth": 16, "width_factor": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        wide_resnet(**args)
