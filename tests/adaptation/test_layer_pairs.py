import keras
import pytest
from keras import layers

from kd_toolkit import models
from kd_toolkit.adaptation import find_cuts
from kd_toolkit.adaptation import propose_layer_pairs
from tests.adaptation.toy_models import tiny_resnet


def test_block_boundaries_of_a_residual_network():
    blocks = find_cuts(tiny_resnet(), blocks_only=True)
    # Each block's ReLU after the Add (moved past the shape-keeping
    # Identity for the last block), not the Add itself.
    assert blocks.names() == [
        "stem_out",
        "block1_out",
        "block2_out",
        "features",
    ]
    text = str(blocks)
    assert text.startswith("Block boundaries of 'teacher' (4):")
    # Printed in one group per resolution: 8x8, then 4x4.
    assert "\n\n" in text and "8x8" in text and "4x4" in text


def test_plain_chain_ends_a_block_at_each_resolution():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1), name="x"),
            layers.Conv2D(2, 3, padding="same", name="c1"),
            layers.ReLU(name="r1"),
            layers.MaxPooling2D(name="p1"),
            layers.Conv2D(4, 3, padding="same", name="c2"),
            layers.ReLU(name="r2"),
            layers.Flatten(name="flat"),
            layers.Dense(3, name="out"),
        ]
    )
    cuts = find_cuts(model)
    assert cuts.blocks().names() == ["r1", "r2"]
    assert list(cuts.by_resolution()) == [(8, 8), (4, 4)]


def test_mobilenet_v2_blocks_are_its_residual_adds_and_block_inputs():
    teacher = keras.applications.MobileNetV2(
        weights=None, input_shape=(96, 96, 3), classes=10
    )
    cuts = find_cuts(teacher)
    blocks = cuts.blocks().names()
    adds = [n for n in cuts.names() if n.endswith("_add")]
    assert len(adds) == 10 and set(adds) <= set(blocks)
    assert "out_relu" in blocks
    assert len(cuts) > 60 and len(blocks) <= 20, blocks


def test_pairs_for_a_keras_application_and_a_zoo_student():
    teacher = keras.applications.MobileNetV2(
        weights=None, input_shape=(96, 96, 3), classes=10
    )
    student = models.get(
        "resnet8", input_shape=(96, 96, 3), num_classes=10, base_width=4
    )
    pairs = propose_layer_pairs(teacher, student)
    assert [p.resolution for p in pairs] == [(48, 48), (24, 24)]
    # The student's stage outputs; the teacher's narrow block outputs.
    assert [p.student_layer for p in pairs] == ["stage2_out", "stage3_out"]
    assert pairs.names()[0] == ("expanded_conv_project_BN", "stage2_out")
    assert pairs[1].teacher_layer == "block_2_add"
    for p in pairs:
        assert p.teacher_shape[:2] == p.student_shape[:2] == p.resolution
    assert "Proposed layer pairs (2):" in str(pairs)


def test_pairs_of_two_zoo_resnets_are_their_stage_outputs():
    teacher = models.get("resnet20", input_shape=(28, 28, 1), num_classes=10)
    student = models.get("resnet8", input_shape=(28, 28, 1), num_classes=10)
    assert propose_layer_pairs(teacher, student).names() == [
        ("stage1_out", "stage1_out"),
        ("stage2_out", "stage2_out"),
        ("stage3_out", "stage3_out"),
    ]


def test_no_common_resolution_is_an_error_naming_both():
    teacher = tiny_resnet(shape=(8, 8, 1))
    student = tiny_resnet(name="student", shape=(6, 6, 1))
    with pytest.raises(
        ValueError,
        match="share no feature-map resolution.*"
        r"Received: teacher 'teacher' resolutions \[\(8, 8\)",
    ):
        propose_layer_pairs(teacher, student)


def _cells(name, filters):
    """NASNet-like: each cell reads the two previous cells, so no cell
    output is a cut (two tensors cross every boundary)."""
    inputs = keras.Input((8, 8, 1))
    prev = layers.Conv2D(filters, 3, padding="same", name=f"{name}_stem")(
        inputs
    )
    cur = layers.Conv2D(filters, 3, padding="same", name=f"{name}_c0")(prev)
    for i in range(1, 4):
        a = layers.Conv2D(filters, 1, name=f"{name}_a{i}")(prev)
        b = layers.Conv2D(filters, 3, padding="same", name=f"{name}_b{i}")(cur)
        prev, cur = cur, layers.Concatenate(name=f"{name}_cell{i}")([a, b])
        if i == 2:  # a reduction cell: both paths shrink
            prev = layers.MaxPooling2D(name=f"{name}_pool_prev")(prev)
            cur = layers.MaxPooling2D(name=f"{name}_pool_cur")(cur)
    x = layers.Add(name=f"{name}_join")(
        [layers.Conv2D(2 * filters, 1, name=f"{name}_proj")(prev), cur]
    )
    x = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_gap")(x)
    x = layers.Conv2D(3, 1, name=f"{name}_classifier")(x)  # a 1×1 "map"
    return keras.Model(inputs, layers.Flatten(name=f"{name}_flat")(x))


def test_cells_that_read_two_tensors_are_paired_by_their_merges():
    teacher, student = _cells("t", 8), _cells("s", 4)
    pairs = propose_layer_pairs(teacher, student)
    # One pair per resolution, each a cell output, never the 1×1 classifier.
    assert [p.resolution for p in pairs] == [(8, 8), (4, 4)]
    assert [p.teacher_layer for p in pairs] == ["t_cell2", "t_join"]
    assert "merge output (no cut)" in pairs[0].reason
    assert all("classifier" not in n for pair in pairs.names() for n in pair)


def test_generated_names_are_avoided_and_flagged():
    def model(name, stable):
        inputs = keras.Input((8, 8, 1))
        x = layers.Conv2D(4, 3, padding="same", name=f"{name}_conv")(inputs)
        # Two block ends at 8x8: a residual block's input (named or not)
        # and its unnamed Add.
        x = layers.ReLU(name=f"{name}_block1_out" if stable else None)(x)
        h = layers.Conv2D(4, 3, padding="same")(x)
        x = layers.Add()([x, h])
        x = layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, layers.Dense(3)(x), name=name)

    pairs = propose_layer_pairs(model("t", True), model("s", False))
    (pair,) = pairs
    assert pair.teacher_layer == "t_block1_out"
    assert pair.student_layer.startswith("add")
    assert pair.auto_named and "generated name*" in pair.reason
    assert "given name" in pair.reason
    assert "it changes when the model is built" in str(pairs)
