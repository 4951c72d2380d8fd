"""Tests for kd_toolkit.models.mobilenet_tiny."""

import keras
import pytest

from kd_toolkit.models import mobilenet_tiny
from tests.models import model_checks


@pytest.mark.parametrize("input_shape", [(28, 28, 1), (32, 32, 3)])
def test_builds_and_outputs_logits(input_shape):
    model = mobilenet_tiny(input_shape=input_shape, num_classes=10)
    assert model.name == "mobilenet_tiny"
    x = model_checks.random_images(input_shape)
    assert tuple(model(x, training=False).shape) == (2, 10)


def test_contract_names_shapes_and_hand_count():
    model = mobilenet_tiny(
        input_shape=(28, 28, 1),
        num_classes=10,
        filters=(8, 16),
        blocks_per_stage=2,
        stem_filters=4,
    )
    for name in ("stem_conv", "stem_bn", "stem_out", "pool", "logits"):
        model.get_layer(name)
    for i in (1, 2):
        for j in (1, 2):
            for suffix in ("dwconv", "bn1", "relu1", "pwconv", "bn2"):
                model.get_layer(f"stage{i}_block{j}_{suffix}")
    assert isinstance(
        model.get_layer("stage1_block1_dwconv"), keras.layers.DepthwiseConv2D
    )
    assert model.get_layer("stage1_out").output.shape[1:] == (28, 28, 8)
    assert model.get_layer("stage2_out").output.shape[1:] == (14, 14, 16)

    def block(c_in, c_out):  # depthwise 3x3, BN, pointwise, BN
        return 9 * c_in + 2 * c_in + c_in * c_out + 2 * c_out

    expected = (
        (9 * 1 * 4 + 2 * 4)
        + block(4, 8)
        + block(8, 8)
        + block(8, 16)
        + block(16, 16)
        + (16 * 10 + 10)
    )
    assert model_checks.trainable_count(model) == expected


def test_block_outputs_are_cuts():
    model = mobilenet_tiny(input_shape=(8, 8, 3), filters=(4, 8))
    x = model_checks.random_images((8, 8, 3))
    for name in (
        "stem_out",
        "stage1_block1_out",
        "stage1_block2_out",
        "stage1_out",
        "stage2_block1_out",
        "stage2_out",
    ):
        model_checks.assert_is_cut(model, name, x)


def test_save_load_round_trip(tmp_path):
    model = mobilenet_tiny(
        input_shape=(8, 8, 3),
        num_classes=3,
        filters=(4, 8),
        blocks_per_stage=1,
        weight_decay=1e-4,
    )
    x = model_checks.random_images((8, 8, 3), batch=4)
    model_checks.fit_one_step(model, x, num_classes=3)
    model_checks.assert_save_load_round_trip(model, tmp_path, x)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"blocks_per_stage": 0}, "Received: blocks_per_stage=0"),
        ({"stem_filters": -2}, "Received: stem_filters=-2"),
        ({"filters": []}, r"Received: filters=\[\]"),
        ({"input_shape": (2, 32, 3)}, "at least 4"),
        ({"num_classes": 1}, "Received: num_classes=1"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mobilenet_tiny(**kwargs)
