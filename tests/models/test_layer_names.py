"""Tests for kd_toolkit.models.layer_names."""

import keras
import pytest

from kd_toolkit import models


def test_block_output_names_in_graph_order():
    model = models.resnet("resnet14", input_shape=(8, 8, 3))
    assert models.block_output_names(model) == [
        f"stage{i}_block{j}_out" for i in (1, 2, 3) for j in (1, 2)
    ]
    assert models.stage_output_names(model) == [
        "stage1_out",
        "stage2_out",
        "stage3_out",
    ]


def test_model_without_blocks_has_no_block_outputs():
    model = models.simple_cnn(input_shape=(8, 8, 1))
    assert models.block_output_names(model) == []
    assert models.stage_output_names(model) == ["stage1_out", "stage2_out"]


def test_names_outside_the_pattern_are_ignored():
    inputs = keras.Input((4,))
    x = keras.layers.Dense(3, name="stage1_block1_out_extra")(inputs)
    x = keras.layers.Dense(3, name="stage1_block1_out")(x)
    model = keras.Model(inputs, x)
    assert models.block_output_names(model) == ["stage1_block1_out"]


def test_not_a_model_raises():
    with pytest.raises(TypeError, match="Received: model='resnet20'"):
        models.block_output_names("resnet20")
