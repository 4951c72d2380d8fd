"""Tests for kd_toolkit.models.resnet."""

import keras
import numpy as np
import pytest

from kd_toolkit.models import resnet
from tests.models import model_checks


def expected_trainable(depth, stem, width, channels, classes):
    """Trainable parameters of a basic-block ResNet, counted by hand:
    3x3 convs without bias, BN gamma/beta, option-B projections, dense."""
    total = 9 * channels * stem + 2 * stem
    c_in = stem
    for i, stride in enumerate((1, 2, 2)):
        c_out = width * 2**i
        for j in range((depth - 2) // 6):
            total += 9 * c_in * c_out + 9 * c_out * c_out + 4 * c_out
            if (stride if j == 0 else 1) != 1 or c_in != c_out:
                total += c_in * c_out + 2 * c_out
            c_in = c_out
    return total + c_in * classes + classes


@pytest.mark.parametrize(
    "name,depth,stem,width",
    [
        ("resnet8", 8, 16, 16),
        ("resnet20", 20, 16, 16),
        ("resnet14", 14, 16, 16),
        ("resnet8x4", 8, 32, 64),
    ],
)
def test_trainable_count_matches_hand_count(name, depth, stem, width):
    model = resnet(name, input_shape=(28, 28, 1), num_classes=7)
    assert model_checks.trainable_count(model) == expected_trainable(
        depth, stem, width, channels=1, classes=7
    )


@pytest.mark.parametrize(
    "name,num_classes,published_millions",
    [
        ("resnet20", 10, 0.27),  # He et al. 2016, table 6 (CIFAR-10)
        ("resnet110", 10, 1.7),  # He et al. 2016, table 6 (CIFAR-10)
        ("resnet8x4", 100, 1.23),  # CRD (ICLR 2020) table, CIFAR-100
        ("resnet32x4", 100, 7.43),
    ],
)  # CRD (ICLR 2020) table, CIFAR-100
def test_trainable_count_matches_published(
    name, num_classes, published_millions
):
    model = resnet(name, input_shape=(32, 32, 3), num_classes=num_classes)
    x = model_checks.random_images((32, 32, 3))
    assert tuple(model(x, training=False).shape) == (2, num_classes)
    millions = model_checks.trainable_count(model) / 1e6
    # Published figures are rounded to their last digit.
    digits = len(str(published_millions).split(".")[1])
    assert abs(millions - published_millions) <= 0.5 * 10**-digits


def test_stage_shapes_and_contract_names_resnet20():
    model = resnet("resnet20", input_shape=(28, 28, 1))
    shapes = {
        n: model.get_layer(n).output.shape[1:]
        for n in (
            "stem_out",
            "stage1_out",
            "stage2_out",
            "stage3_out",
            "stage3_block2_out",
            "pool",
            "logits",
        )
    }
    assert shapes == {
        "stem_out": (28, 28, 16),
        "stage1_out": (28, 28, 16),
        "stage2_out": (14, 14, 32),
        "stage3_out": (7, 7, 64),
        "stage3_block2_out": (7, 7, 64),
        "pool": (64,),
        "logits": (10,),
    }
    assert isinstance(model.get_layer("stage2_out"), keras.layers.Identity)
    assert isinstance(model.get_layer("stage2_block3_out"), keras.layers.ReLU)
    assert isinstance(
        model.get_layer("pool"), keras.layers.GlobalAveragePooling2D
    )
    suffixes = ("conv1", "bn1", "relu1", "conv2", "bn2", "add", "out")
    for i in (1, 2, 3):
        for j in (1, 2, 3):
            for suffix in suffixes:
                model.get_layer(f"stage{i}_block{j}_{suffix}")
    names = {layer.name for layer in model.layers}
    projections = {n for n in names if n.endswith("_shortcut_conv")}
    assert projections == {
        "stage2_block1_shortcut_conv",
        "stage3_block1_shortcut_conv",
    }
    assert "stage2_block1_shortcut_bn" in names
    assert "stage1_block4_out" not in names


def test_x4_widths_and_projection_in_first_block():
    model = resnet("resnet8x4", input_shape=(32, 32, 3))
    assert model.get_layer("stem_conv").filters == 32
    widths = [
        model.get_layer(f"stage{i}_out").output.shape[-1] for i in (1, 2, 3)
    ]
    assert widths == [64, 128, 256]
    model.get_layer("stage1_block1_shortcut_conv")


@pytest.mark.parametrize(
    "name,base_width,stem,widths",
    [("resnet8", 8, 8, [8, 16, 32]), ("resnet8x4", 16, 8, [16, 32, 64])],
)
def test_base_width_overrides_widths(name, base_width, stem, widths):
    model = resnet(name, base_width=base_width)
    assert model.get_layer("stem_conv").filters == stem
    assert [
        model.get_layer(f"stage{i}_out").output.shape[-1] for i in (1, 2, 3)
    ] == widths


def test_block_and_stage_outputs_are_cuts():
    model = resnet("resnet14", input_shape=(16, 16, 3))
    x = model_checks.random_images((16, 16, 3))
    names = (
        ["stem_out"]
        + [f"stage{i}_block{j}_out" for i in (1, 2, 3) for j in (1, 2)]
        + [f"stage{i}_out" for i in (1, 2, 3)]
    )
    for name in names:
        model_checks.assert_is_cut(model, name, x)


def test_inside_of_a_block_is_not_a_cut():
    # The shortcut bypasses relu1, so the back model cannot be built.
    model = resnet("resnet8", input_shape=(16, 16, 3))
    x = model_checks.random_images((16, 16, 3))
    with pytest.raises(ValueError, match="not connected"):
        model_checks.assert_is_cut(model, "stage2_block1_relu1", x)


def test_unknown_spatial_size_accepts_any_size():
    model = resnet("resnet8", input_shape=(None, None, 3), num_classes=4)
    for height, width in ((32, 32), (40, 24)):
        x = model_checks.random_images((height, width, 3))
        assert tuple(model(x, training=False).shape) == (2, 4)


def test_save_load_round_trip(tmp_path):
    model = resnet(
        "resnet8",
        input_shape=(16, 16, 3),
        num_classes=3,
        base_width=4,
        weight_decay=1e-4,
    )
    x = model_checks.random_images((16, 16, 3), batch=4)
    model_checks.fit_one_step(model, x, num_classes=3)
    model_checks.assert_save_load_round_trip(model, tmp_path, x)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (
            {"name": "resnet21"},
            r"Did you mean \[.*'resnet20'.*\]\? "
            r"Expected one of \['resnet110'.*"
            r"Received: name='resnet21'",
        ),
        ({"name": 20}, r"Expected one of.*Received: name=20"),
        ({"name": "resnet8", "base_width": 0}, "Received: base_width=0"),
        ({"name": "resnet8", "num_classes": 1}, "Received: num_classes=1"),
        (
            {"name": "resnet8", "input_shape": (32, 32)},
            r"rank-3.*Received: input_shape=\(32, 32\)",
        ),
        (
            {"name": "resnet8", "input_shape": (3, 32, 3)},
            r"at least 4\. Received: input_shape=\(3, 32, 3\)",
        ),
        (
            {"name": "resnet8", "weight_decay": -1.0},
            "Received: weight_decay=-1.0",
        ),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        resnet(**kwargs)


def test_weight_decay_regularizes_every_kernel():
    model = resnet("resnet8", input_shape=(8, 8, 1), weight_decay=1e-3)
    kernels = [
        layer
        for layer in model.layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))
    ]
    assert len(model.losses) == len(kernels)
    expected = sum(
        1e-3 * float(np.sum(np.square(layer.kernel.numpy())))
        for layer in kernels
    )
    total = float(
        sum(keras.ops.convert_to_numpy(loss) for loss in model.losses)
    )
    np.testing.assert_allclose(total, expected, rtol=1e-5)
