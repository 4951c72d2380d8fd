import keras
import pytest
from keras import layers

from kd_toolkit.adaptation import ActivationMapAdapter
from kd_toolkit.adaptation import Replacement
from kd_toolkit.adaptation import adapt_teacher
from kd_toolkit.adaptation import layer_macs
from kd_toolkit.adaptation import model_cost
from tests.adaptation.toy_models import tiny_resnet


def _tiny():
    inputs = keras.Input((6, 6, 2), name="x")
    x = layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.ReLU(name="relu")(x)
    x = layers.DepthwiseConv2D(3, strides=2, padding="same", name="dw")(x)
    x = layers.SeparableConv2D(5, 3, padding="same", name="sep")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, layers.Dense(3, name="dense")(x), name="tiny")


def test_counts_match_hand_computation():
    report = model_cost(_tiny())
    macs = {r.name: r.macs for r in report.layers}
    params = {r.name: r.params for r in report.layers}
    # conv: 6x6 outputs x 4 filters x (3x3x2) taps.
    assert macs["conv"] == 6 * 6 * 4 * 3 * 3 * 2
    assert params["conv"] == 3 * 3 * 2 * 4 + 4
    # BN: one multiply-add per output element; 4 vectors of 4.
    assert macs["bn"] == 6 * 6 * 4
    assert params["bn"] == 4 * 4
    assert macs["relu"] == 0 and macs["pool"] == 0
    # depthwise, stride 2 -> 3x3x4, each a 3x3 window.
    assert macs["dw"] == 3 * 3 * 4 * 3 * 3
    assert params["dw"] == 3 * 3 * 4 + 4
    # separable: depthwise 3x3 on 4 channels then 1x1 4 -> 5, at 3x3.
    assert macs["sep"] == 3 * 3 * (4 * 3 * 3) + 3 * 3 * (4 * 5)
    assert params["sep"] == 3 * 3 * 4 + 4 * 5 + 5
    assert macs["dense"] == 5 * 3
    assert params["dense"] == 5 * 3 + 3
    assert report.macs == 2592 + 144 + 324 + 504 + 15
    assert report.flops == 2 * report.macs
    assert report.params == 76 + 16 + 40 + 61 + 18
    assert report.params == _tiny().count_params()
    assert report.uncounted == []


def test_transposed_convolution():
    layer = layers.Conv2DTranspose(3, 2, strides=2)
    layer.build((None, 4, 4, 5))
    # each of the 4x4 inputs scatters a 2x2x3 window from 5 channels.
    assert layer_macs(layer, (None, 4, 4, 5), (None, 8, 8, 3)) == (
        4 * 4 * 2 * 2 * 3 * 5
    )


def test_adapter_is_expanded_and_counted_by_hand():
    teacher = tiny_resnet()  # block1_out is 8x8x8, block3_out 4x4x16
    adapted = adapt_teacher(teacher, [Replacement("block1_out", "block3_out")])
    report = model_cost(adapted.model)
    rows = [
        r for r in report.layers if r.name.startswith("block3_out_adapter/")
    ]
    assert [r.kind for r in rows] == [
        "DepthwiseConv2D",
        "BatchNormalization",
        "ReLU",
        "Conv2D",
        "BatchNormalization",
        "ReLU",
    ]
    adapter_macs = (
        (4 * 4 * 8 * 9) + (4 * 4 * 8) + (4 * 4 * 8 * 16) + (4 * 4 * 16)
    )
    assert sum(r.macs for r in rows) == adapter_macs
    before = model_cost(teacher)
    removed = set(adapted.removed_layers[0])
    removed_macs = sum(r.macs for r in before.layers if r.name in removed)
    assert report.macs == before.macs - removed_macs + adapter_macs
    assert report.params == adapted.model.count_params()
    comparison = adapted.cost()
    assert comparison.macs_ratio == pytest.approx(report.macs / before.macs)
    text = str(comparison)
    assert "MACs / image" in text and f"{before.macs:,}" in text


def test_shared_layer_weights_counted_once_and_unknown_layers_listed():
    inputs = keras.Input((4,), name="x")
    shared = layers.Dense(4, name="shared")
    y = shared(shared(inputs))
    y = layers.LayerNormalization(name="norm")(y)
    model = keras.Model(inputs, y)
    report = model_cost(model)
    assert report.params == model.count_params()
    assert report.macs == 2 * 16
    assert report.uncounted == ["norm"]
    assert "MACs not counted for: ['norm']" in str(report)


def test_nested_model_is_expanded():
    inner_in = keras.Input((4, 4, 2))
    inner = keras.Model(
        inner_in, layers.Conv2D(3, 1, name="c")(inner_in), name="inner"
    )
    inputs = keras.Input((4, 4, 2))
    model = keras.Model(inputs, layers.Flatten()(inner(inputs)))
    report = model_cost(model)
    assert "inner/c" in [r.name for r in report.layers]
    assert report.macs == 4 * 4 * 2 * 3


def test_unknown_spatial_size_is_an_error():
    inputs = keras.Input((None, None, 2))
    model = keras.Model(inputs, layers.Conv2D(3, 1, name="c")(inputs))
    with pytest.raises(ValueError, match="known activation sizes.*'c'"):
        model_cost(model)


def test_standalone_adapter_layer_counts():
    adapter = ActivationMapAdapter(8, strides=2, kind="conv")
    adapter.build((None, 8, 8, 4))
    conv = adapter.stack[0]
    assert layer_macs(conv, (None, 8, 8, 4), (None, 4, 4, 8)) == (
        4 * 4 * 8 * 3 * 3 * 4
    )
