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


def _squeeze_excite_block(x, name, filters, residual=True):
    """An inverted-residual block with squeeze-and-excite, as in
    EfficientNet and MobileNetV3: expand, depthwise, SE gate, project (and
    the residual add, except in a block that changes the width)."""
    h = layers.Conv2D(filters * 2, 1, name=f"{name}_expand")(x)
    h = layers.DepthwiseConv2D(3, padding="same", name=f"{name}_dw")(h)
    h = layers.ReLU(name=f"{name}_activation")(h)
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_sq")(h)
    s = layers.Conv2D(4, 1, activation="relu", name=f"{name}_se_reduce")(s)
    s = layers.Conv2D(
        filters * 2, 1, activation="sigmoid", name=f"{name}_se_expand"
    )(s)
    h = layers.Multiply(name=f"{name}_se_excite")([h, s])
    h = layers.Conv2D(filters, 1, name=f"{name}_project")(h)
    return layers.Add(name=f"{name}_add")([x, h]) if residual else h


def test_squeeze_excite_internals_are_not_block_boundaries():
    inputs = keras.Input((8, 8, 8))
    x = layers.Conv2D(8, 3, padding="same", name="stem")(inputs)
    # Like EfficientNet's "a" blocks: no shortcut, so every tensor inside
    # is a cut.
    x = _squeeze_excite_block(x, "block1", 16, residual=False)
    x = _squeeze_excite_block(x, "block2", 16)
    x = layers.GlobalAveragePooling2D(keepdims=True, name="pool")(x)
    x = layers.Conv2D(10, 1, name="classifier")(x)
    outputs = layers.Flatten(name="logits")(x)
    model = keras.Model(inputs, outputs)
    blocks = find_cuts(model, blocks_only=True).names()
    assert blocks == ["block1_project", "block2_add"]
    # The gate's input and its multiply are still cuts, just not block ends.
    every = find_cuts(model).names()
    assert "block1_se_excite" in every and "block1_activation" in every
    assert "classifier" not in blocks  # a 1×1 map is not a feature map
