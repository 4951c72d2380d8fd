import keras
import pytest
from keras import layers

from kd_toolkit.adaptation import find_cuts
from tests.adaptation.toy_models import tiny_resnet


def test_cuts_of_a_residual_network_are_the_block_boundaries():
    cuts = find_cuts(tiny_resnet())
    names = cuts.names()
    for name in (
        "image",
        "stem_out",
        "block1_out",
        "block2_out",
        "block3_out",
        "features",
        "pool",
        "logits",
    ):
        assert name in names
    # Inside a residual block the shortcut also crosses: not a cut.
    for name in ("block1_a_out", "block1_b_bn", "block2_proj", "block2_a_conv"):
        assert name not in names
    by_name = {c.layer: c for c in cuts}
    assert by_name["block2_out"].shape == (4, 4, 16)
    positions = [c.position for c in cuts]
    assert positions == sorted(positions)


def test_table_is_printable():
    text = str(find_cuts(tiny_resnet()))
    assert "Cuts of 'teacher'" in text
    assert "block2_out" in text and "(4, 4, 16)" in text


def test_sequential_model_every_layer_is_a_cut():
    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            layers.Conv2D(2, 3, name="c1"),
            layers.ReLU(name="r1"),
            layers.Flatten(name="flat"),
            layers.Dense(3, name="out"),
        ]
    )
    assert find_cuts(model).names()[1:] == ["c1", "r1", "flat", "out"]


def test_two_branch_model_has_no_cut_inside_the_branches():
    inputs = keras.Input((4, 4, 1), name="x")
    a = layers.Conv2D(2, 1, name="a")(inputs)
    b = layers.Conv2D(2, 1, name="b")(inputs)
    merged = layers.Concatenate(name="cat")([a, b])
    model = keras.Model(inputs, layers.Flatten(name="flat")(merged))
    assert find_cuts(model).names() == ["x", "cat", "flat"]


def test_a_shared_layer_is_not_a_cut():
    inputs = keras.Input((4,), name="x")
    shared = layers.Dense(4, name="shared")
    y = shared(shared(inputs))
    model = keras.Model(inputs, layers.Dense(2, name="out")(y))
    assert "shared" not in find_cuts(model).names()


def test_subclassed_model_is_rejected():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    net = Net()
    net(keras.ops.zeros((1, 3)))
    with pytest.raises(ValueError, match="only functional and"):
        find_cuts(net)


def test_not_a_model_is_rejected():
    with pytest.raises(TypeError, match="keras.Model"):
        find_cuts(layers.Dense(2))
