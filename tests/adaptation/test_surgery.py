import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from kd_toolkit.adaptation import ActivationMapAdapter
from kd_toolkit.adaptation import FrozenLayer
from kd_toolkit.adaptation import Replacement
from kd_toolkit.adaptation import adapt_teacher
from tests.adaptation.toy_models import conv_bn_relu
from tests.adaptation.toy_models import randomize_bn
from tests.adaptation.toy_models import tiny_resnet
from tests.adaptation.toy_models import toy_data


def _plain_cnn():
    inputs = keras.Input((8, 8, 2), name="image")
    x = conv_bn_relu(inputs, 4, 1, "c1")
    x = conv_bn_relu(x, 6, 2, "c2")
    x = conv_bn_relu(x, 6, 1, "c3")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, layers.Dense(3, name="logits")(x), name="cnn")


@pytest.mark.parametrize(
    "build, start, block",
    [
        (tiny_resnet, "image", "stem"),
        (_plain_cnn, "c1_out", "c2"),  # strided block
        (_plain_cnn, "c2_out", "c3"),
    ],
)
def test_adapter_with_the_block_weights_reproduces_the_teacher(
    build, start, block
):
    teacher = randomize_bn(build())
    adapted = adapt_teacher(
        teacher, [Replacement(start=start, end=f"{block}_out", kind="conv")]
    )
    adapter = adapted.adapters[f"{block}_out_adapter"]
    assert adapter.final_relu  # the block ends in a ReLU
    adapter.copy_weights_from(
        teacher.get_layer(f"{block}_conv"), teacher.get_layer(f"{block}_bn")
    )
    x = (
        np.random.default_rng(1)
        .normal(size=(4,) + tuple(teacher.input_shape[1:]))
        .astype("float32")
    )
    np.testing.assert_allclose(adapted.model(x), teacher(x), atol=1e-5)


def test_removed_layers_are_not_in_the_graph_and_weights_are_shared():
    teacher = tiny_resnet()
    adapted = adapt_teacher(teacher, [Replacement("block1_out", "block3_out")])
    names = {layer.name for layer in adapted.model.layers}
    (removed,) = adapted.removed_layers
    assert set(removed) == {
        n
        for n in (layer.name for layer in teacher.layers)
        if n.startswith(("block2_", "block3_"))
    }
    assert not names & set(removed)
    assert "block3_out_adapter" in names
    stem = adapted.model.get_layer("stem_conv")
    assert isinstance(stem, FrozenLayer)
    assert stem.layer is teacher.get_layer("stem_conv")
    assert all(not layer.trainable for layer in teacher.layers)
    adapter_vars = {
        id(v) for v in adapted.adapters["block3_out_adapter"].trainable_weights
    }
    assert {id(v) for v in adapted.model.trainable_weights} == adapter_vars
    assert adapted.cost().after.macs < adapted.cost().before.macs


def test_original_layers_stay_in_inference_mode_under_training():
    teacher = randomize_bn(tiny_resnet(dropout=0.9))
    adapted = adapt_teacher(teacher, [Replacement("block1_out", "block3_out")])
    x, _ = toy_data(8)
    first = adapted.model(x, training=True)
    np.testing.assert_array_equal(first, adapted.model(x, training=True))
    tap = keras.Model(
        adapted.model.input, adapted.model.get_layer("block1_out").output
    )
    reference = keras.Model(
        teacher.input, teacher.get_layer("block1_out").output
    )
    np.testing.assert_allclose(tap(x, training=True), reference(x), atol=1e-6)
    bn = teacher.get_layer("stem_bn")
    before = bn.moving_mean.numpy().copy()
    adapted.model(x, training=True)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), before)


def test_several_replacements_adjacent_and_apart():
    teacher = tiny_resnet()
    adapted = adapt_teacher(
        teacher,
        [
            Replacement("stem_out", "block1_out", name="first"),
            Replacement("block1_out", "block2_out", name="second"),
            Replacement("block2_out", "features", kind="conv", name="third"),
        ],
    )
    assert list(adapted.adapters) == ["first", "second", "third"]
    assert (
        adapted.model.get_layer("second").input
        is adapted.model.get_layer("first").output
    )
    assert adapted.adapters["second"].strides == 2
    # Only the first adapter is fed by frozen layers alone.
    assert [a.stop_input_gradient for a in adapted.adapters.values()] == [
        True,
        False,
        False,
    ]
    x, _ = toy_data(2)
    assert tuple(adapted.model(x).shape) == (2, 3)
    kept = {layer.name for layer in adapted.model.layers}
    assert not any(n.startswith("block") for n in kept)
    assert "Adapted teacher" in str(adapted)


def test_local_gradients_stop_every_adapter_input():
    teacher = tiny_resnet()
    reps = [
        Replacement("stem_out", "block1_out", name="first"),
        Replacement("block1_out", "block2_out", name="second"),
    ]
    adapted = adapt_teacher(teacher, reps, local_gradients=True)
    assert [a.stop_input_gradient for a in adapted.adapters.values()] == [
        True,
        True,
    ]
    # A loss on the model's output reaches the last adapter only.
    x, _ = toy_data(4)
    first, second = adapted.adapters.values()
    with tf.GradientTape() as tape:
        out = adapted.model(x, training=True)
    grads = tape.gradient(
        out, first.trainable_weights + second.trainable_weights
    )
    n = len(first.trainable_weights)
    assert all(g is None for g in grads[:n])
    assert all(g is not None for g in grads[n:])
    with pytest.raises(TypeError, match="local_gradients"):
        adapt_teacher(teacher, reps, local_gradients=1)


def test_final_relu_follows_the_replaced_block():
    teacher = tiny_resnet()
    cases = {"block3_out": True, "block3_add": False, "features": True}
    for end, expected in cases.items():
        adapted = adapt_teacher(teacher, [Replacement("block2_out", end)])
        assert adapted.adapters[f"{end}_adapter"].final_relu is expected
    adapted = adapt_teacher(
        teacher, [Replacement("block2_out", "block3_out", final_relu=False)]
    )
    assert not adapted.adapters["block3_out_adapter"].final_relu


def test_overlapping_replacements_are_rejected():
    with pytest.raises(ValueError, match=r"must not overlap.*block2_"):
        adapt_teacher(
            tiny_resnet(),
            [
                Replacement("stem_out", "block2_out", name="a"),
                Replacement("block1_out", "block3_out", name="b"),
            ],
        )


@pytest.mark.parametrize(
    "rep, match",
    [
        (
            Replacement("block1_a_out", "block3_out"),
            r"`start` must be a cut.*'block1_a_out' is not one: "
            r"2 tensors cross.*"
            r"output of 'stem_out' \(read by 'block1_add'\).*"
            r"Received: start='block1_a_out'",
        ),
        (
            Replacement("stem_out", "block2_proj"),
            r"`end` must be a cut.*output of 'block2_b_bn' \(read by "
            r"'block2_add'\)",
        ),
        (
            Replacement("block3_out", "block1_out"),
            "`end` must come after `start`",
        ),
        (
            Replacement("block1_out", "block3_outt"),
            r"Closest names: \['block3_out'.*Received: end='block3_outt'",
        ),
        (
            Replacement("block3_out", "pool"),
            r"Cannot adapt from layer 'block3_out' \(output shape "
            r"\(None, 4, 4, 16\)\) to layer 'pool'.*4-D map",
        ),
        (
            Replacement("block1_out", "block3_out", name="stem_conv"),
            "Adapter name 'stem_conv'",
        ),
    ],
)
def test_bad_replacements_name_the_layers(rep, match):
    with pytest.raises(ValueError, match=match):
        adapt_teacher(tiny_resnet(), [rep])


def test_unreachable_shape_names_the_layers():
    inputs = keras.Input((8, 8, 1), name="image")
    x = layers.Conv2D(2, 3, padding="valid", name="valid")(inputs)
    model = keras.Model(inputs, layers.Flatten(name="flat")(x))
    with pytest.raises(
        ValueError, match=r"'image'.*'valid'.*No integer stride"
    ):
        adapt_teacher(model, [Replacement("image", "valid")])


def test_bad_teachers_and_replacement_lists():
    class Net(keras.Model):
        def call(self, x):
            return x

    net = Net()
    net(keras.ops.zeros((1, 2)))
    with pytest.raises(ValueError, match="only functional and"):
        adapt_teacher(net, [Replacement("a", "b")])
    with pytest.raises(ValueError, match="non-empty list"):
        adapt_teacher(tiny_resnet(), [])
    with pytest.raises(TypeError, match="Replacement"):
        adapt_teacher(tiny_resnet(), [("block1_out", "block3_out")])


def test_sequential_teacher_and_plain_operations():
    seq = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(4, 3, padding="same", name="c1"),
            layers.ReLU(name="r1"),
            layers.Conv2D(4, 3, padding="same", name="c2"),
            layers.ReLU(name="r2"),
            layers.Flatten(name="flat"),
        ]
    )
    adapted = adapt_teacher(seq, [Replacement("r1", "r2")])
    assert tuple(adapted.model.output.shape) == (None, 256)
    inputs = keras.Input((4, 4, 2), name="x")
    y = layers.Conv2D(2, 1, name="c")(inputs)
    y = layers.ReLU(name="r")(y + inputs)  # `+` is a plain operation
    y = layers.Conv2D(2, 1, name="d")(y)
    model = keras.Model(inputs, layers.Flatten(name="flat")(y))
    adapted = adapt_teacher(model, [Replacement("r", "d")])
    x = np.ones((1, 4, 4, 2), "float32")
    assert tuple(adapted.model(x).shape) == (1, 32)


def test_save_and_load_the_adapted_teacher(tmp_path):
    teacher = randomize_bn(tiny_resnet(dropout=0.5))
    adapted = adapt_teacher(teacher, [Replacement("block1_out", "block3_out")])
    x, _ = toy_data(8)
    adapted.model(x, training=True)  # adapter BN statistics move
    path = tmp_path / "adapted.keras"
    adapted.model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(
        loaded.get_layer("block3_out_adapter"), ActivationMapAdapter
    )
    np.testing.assert_allclose(loaded(x), adapted.model(x), atol=1e-5)
    assert len(loaded.trainable_weights) == len(adapted.model.trainable_weights)


def test_a_teacher_wrapping_a_backbone_is_adapted_by_paths():
    """A backbone inside a Sequential, its cuts named by their path."""
    import numpy as np

    import kd_toolkit as kd
    from kd_toolkit.adaptation import find_cuts

    backbone = tiny_resnet("backbone")
    inner = keras.Model(
        backbone.inputs, backbone.get_layer("features").output, name="bb"
    )
    teacher = keras.Sequential(
        [
            keras.Input(backbone.inputs[0].shape[1:]),
            inner,
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(3, name="head"),
        ]
    )
    assert "bb/block1_out" in find_cuts(teacher, blocks_only=True).names()
    rep = Replacement("bb/block1_out", "bb/block2_out")
    adapted = adapt_teacher(teacher, [rep])
    assert adapted.replacements[0].end == "block2_out"
    x = np.random.default_rng(0).random((2, 8, 8, 1), dtype=np.float32)
    assert adapted.model(x).shape == (2, 3)
    student = tiny_resnet("student", width=4)
    distiller = kd.Distiller(
        adapted.model,
        student,
        losses=[
            kd.losses.ActivationMapAdaptation(
                [
                    Replacement(
                        "block1_out", "block2_out", student_layer="block2_out"
                    )
                ]
            )
        ],
    )
    distiller.compile("adam")
    logs = distiller.fit(x, np.arange(2) % 3, epochs=1, verbose=0).history
    assert np.isfinite(logs["loss"][0])
