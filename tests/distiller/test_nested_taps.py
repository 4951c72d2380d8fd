"""Feature taps inside nested models: the usual transfer-learning network
wraps a backbone model, and its hidden layers are named by a path."""

import keras
import numpy as np
import pytest
from keras import layers

import kd_toolkit as kd
from kd_toolkit.distiller import feature_taps
from kd_toolkit.utils import compat


def _backbone(name, filters):
    inputs = keras.Input((8, 8, 1))
    x = layers.Conv2D(filters, 3, padding="same", name="conv1")(inputs)
    x = layers.ReLU(name="block1_out")(x)
    x = layers.Conv2D(filters, 3, strides=2, padding="same", name="conv2")(x)
    x = layers.ReLU(name="block2_out")(x)
    return keras.Model(inputs, x, name=name)


def _wrapped(name, filters, sequential):
    backbone = _backbone(f"{name}_backbone", filters)
    head = [layers.GlobalAveragePooling2D(name="gap"), layers.Dense(3)]
    if sequential:
        return keras.Sequential(
            [keras.Input((8, 8, 1)), backbone, *head], name=name
        )
    inputs = keras.Input((8, 8, 1))
    x = backbone(inputs)
    for layer in head:
        x = layer(x)
    return keras.Model(inputs, x, name=name)


@pytest.mark.parametrize("sequential", [True, False], ids=["seq", "func"])
def test_a_view_taps_a_layer_inside_a_nested_model(sequential):
    model = _wrapped("s", 4, sequential)
    assert "s_backbone/block1_out" in kd.distiller.layer_names(model)
    view = feature_taps.build_view(
        model, ["s_backbone/block1_out", "s_backbone/block2_out", "gap"], "s"
    )
    x = np.random.default_rng(0).random((2, 8, 8, 1), dtype=np.float32)
    out, block1, block2, gap = view(x)
    np.testing.assert_allclose(out, model(x), rtol=1e-6, atol=1e-6)
    inner = keras.Model(
        model.get_layer("s_backbone").inputs,
        model.get_layer("s_backbone").get_layer("block1_out").output,
    )
    np.testing.assert_allclose(block1, inner(x), rtol=1e-6, atol=1e-6)
    assert tuple(block2.shape) == (2, 4, 4, 4) and tuple(gap.shape) == (2, 4)
    # The view shares the model's weights and runs the backbone once.
    assert {id(v) for v in view.weights} == {id(v) for v in model.weights}
    convs = [
        layer
        for layer in compat.flatten_layers(view)
        if isinstance(layer, layers.Conv2D)
    ]
    assert len({id(c) for c in convs}) == 2


def test_feature_losses_distil_through_nested_paths():
    teacher = _wrapped("t", 8, sequential=False)
    student = _wrapped("s", 4, sequential=True)
    pairs = [("t_backbone/block1_out", "s_backbone/block1_out")]
    distiller = kd.Distiller(
        teacher,
        student,
        losses=[
            kd.losses.KD(2.0),
            kd.losses.AttentionTransfer(layer_pairs=pairs),
            kd.losses.Hint("t_backbone/block2_out", "s_backbone/block2_out"),
        ],
    )
    distiller.compile(keras.optimizers.Adam(0.01))
    x = np.random.default_rng(0).random((32, 8, 8, 1), dtype=np.float32)
    y = np.arange(32) % 3
    before = [w.numpy() for w in teacher.weights]
    history = distiller.fit(x, y, batch_size=8, epochs=3, verbose=0)
    assert history.history["hint_loss"][-1] < history.history["hint_loss"][0]
    assert history.history["at_loss"][0] > 0
    for want, got in zip(before, teacher.weights):
        np.testing.assert_array_equal(got.numpy(), want)


def test_an_unknown_path_lists_the_nested_names():
    student = _wrapped("s", 4, sequential=True)
    with pytest.raises(
        ValueError,
        match=r"Closest names: \['s_backbone/block1_out'.*named by their "
        r"path.*Received: student_layer='s_backbone/block1_ou'",
    ):
        kd.Distiller(
            _wrapped("t", 8, sequential=False),
            student,
            losses=[kd.losses.Hint("t_backbone/conv1", "s_backbone/block1_ou")],
        )


@pytest.mark.slow
def test_a_keras_applications_backbone_in_a_sequential_student():
    """The issue's network: MobileNetV3Small inside a Sequential."""
    backbone = keras.applications.MobileNetV3Small(
        input_shape=(32, 32, 3),
        include_top=False,
        weights=None,
        alpha=0.75,
        minimalistic=True,
        include_preprocessing=False,
    )
    student = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            backbone,
            layers.GlobalAveragePooling2D(),
            layers.Dense(10),
        ]
    )
    inputs = keras.Input((32, 32, 3))
    h = layers.Conv2D(16, 3, strides=4, padding="same", name="t_block")(inputs)
    h = layers.GlobalAveragePooling2D()(h)
    teacher = keras.Model(inputs, layers.Dense(10)(h))
    tap = f"{backbone.name}/expanded_conv_2_add"
    distiller = kd.Distiller(
        teacher,
        student,
        losses=[kd.losses.AttentionTransfer(layer_pairs=[("t_block", tap)])],
    )
    distiller.compile("adam")
    x = np.random.default_rng(0).random((8, 32, 32, 3), dtype=np.float32)
    history = distiller.fit(x, np.arange(8) % 10, epochs=1, verbose=0)
    assert np.isfinite(history.history["at_loss"][0])
