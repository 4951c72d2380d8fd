"""Tests of the Keras 3 <-> tf_keras bridge."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from kd_toolkit import models
from kd_toolkit.compress import tf_keras_bridge as bridge
from tests.compress import helpers

ATOL = 1e-5


def test_kitchen_sink_round_trip_keeps_names_weights_and_outputs():
    model = helpers.randomize_weights(helpers.kitchen_sink_model())
    legacy = bridge.to_tf_keras(model)
    assert isinstance(legacy, tf_keras.Model)
    assert [layer.name for layer in legacy.layers] == [
        layer.name for layer in model.layers
    ]
    tap = legacy.get_layer("tap")
    assert isinstance(tap, tf_keras.layers.Activation)
    assert tap.get_config()["activation"] == "linear"
    assert legacy.get_layer("conv").kernel_regularizer.get_config() == {
        "l2": pytest.approx(1e-4)
    }
    np.testing.assert_array_equal(
        legacy.get_layer("bn").get_weights()[3],
        model.get_layer("bn").get_weights()[3],
    )
    assert bridge.max_output_difference(model, legacy) <= ATOL

    back = bridge.to_keras3(legacy)
    assert isinstance(back, keras.Model)
    assert not bridge.is_tf_keras_model(back)
    assert [layer.name for layer in back.layers] == [
        layer.name for layer in model.layers
    ]
    assert bridge.max_output_difference(model, back) <= ATOL
    x = np.random.default_rng(3).uniform(size=(3, 12, 12, 1)).astype("float32")
    for ours, theirs in zip(model(x), back(x), strict=True):
        np.testing.assert_allclose(ours, theirs, atol=ATOL)


# Every family and block type of the zoo, once each: the deeper ResNets
# (32-110) and WRNs (40-d) only repeat these blocks, and cost 20 s of the
# suite's 15-minute budget on the slowest machines.
FAMILIES = (
    "mobilenet_tiny",
    "resnet8",
    "resnet20",
    "resnet8x4",
    "simple_cnn",
    "wrn_16_2",
)


def test_the_families_cover_the_zoo():
    families = {n.split("_")[0].rstrip("0123456789x") for n in FAMILIES}
    assert families == {
        n.split("_")[0].rstrip("0123456789x") for n in models.names()
    }


@pytest.mark.parametrize("name", FAMILIES)
def test_every_zoo_model_round_trips_with_parity(name):
    model = helpers.randomize_weights(
        models.get(name, input_shape=(28, 28, 1), num_classes=10)
    )
    # Each conversion checks its own parity (ParityError above 1e-5).
    back = bridge.to_keras3(bridge.to_tf_keras(model))
    assert [w.path for w in back.weights] == [w.path for w in model.weights]
    assert bridge.max_output_difference(model, back) <= ATOL


def test_sequential_model_is_rebuilt():
    model = keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ],
        name="seq",
    )
    helpers.randomize_weights(model)
    legacy = bridge.to_tf_keras(model)
    assert bridge.max_output_difference(model, legacy) <= ATOL
    assert bridge.max_output_difference(model, bridge.to_keras3(legacy)) <= ATOL


@keras.saving.register_keras_serializable(package="kd_toolkit_tests")
class Doubler(keras.layers.Layer):
    def call(self, x):
        return 2.0 * x


def test_unsupported_layers_are_all_named_with_their_types():
    inputs = keras.Input((8, 8, 3), name="input")
    x = keras.layers.LayerNormalization(name="norm")(inputs)
    x = Doubler(name="double")(x)
    x = keras.layers.Conv2D(4, 3, name="conv")(x)
    x = keras.layers.UpSampling2D(name="up")(x)
    model = keras.Model(inputs, x)
    with pytest.raises(bridge.UnsupportedLayerError) as info:
        bridge.to_tf_keras(model)
    message = str(info.value)
    assert "3 unsupported layer(s)" in message
    for name, kind in (
        ("norm", "LayerNormalization"),
        ("double", "Doubler"),
        ("up", "UpSampling2D"),
    ):
        assert f"'{name}' ({kind})" in message
    assert "'conv'" not in message
    assert "Supported layer types" in message


def test_argument_without_equivalent_is_refused():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, name="dense")(inputs))
    model.get_layer("dense").enable_lora(2)
    with pytest.raises(
        bridge.UnsupportedLayerError,
        match=r"'dense' \(Dense\): argument lora_rank=2",
    ):
        bridge.to_tf_keras(model)


def test_subclassed_model_is_refused():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    net = Net()
    net(np.zeros((1, 3), "float32"))
    with pytest.raises(ValueError, match="only functional and sequential"):
        bridge.to_tf_keras(net)


def test_bad_arguments():
    model = helpers.tiny_cnn()
    with pytest.raises(TypeError, match="Received: model="):
        bridge.to_tf_keras("model.keras")
    with pytest.raises(TypeError, match="must be a `tf_keras.Model`"):
        bridge.to_keras3(model)
    with pytest.raises(ValueError, match="Received: atol=0"):
        bridge.to_tf_keras(model, atol=0)
    with pytest.raises(ValueError, match="Received: optimizer='rmsprop'"):
        bridge.tf_keras_optimizer("rmsprop", 1e-3)
    with pytest.raises(ValueError, match="Received: learning_rate=-1"):
        bridge.tf_keras_optimizer("adam", -1)


def _rates(optimizer, steps):
    """The learning rates the optimizer applies at the given iterations."""
    variable = tf.Variable(0.0)
    rates = []
    for step in steps:
        optimizer.iterations.assign(step)
        optimizer.apply_gradients([(tf.constant(1.0), variable)])
        rates.append(float(optimizer.learning_rate))
    return rates


def test_optimizer_cosine_decay():
    constant = bridge.tf_keras_optimizer("sgd", 0.5)
    assert isinstance(constant, tf_keras.optimizers.SGD)
    assert _rates(constant, [0, 7]) == pytest.approx([0.5, 0.5])
    decayed = bridge.tf_keras_optimizer("adam", 1.0, decay_steps=10)
    assert isinstance(decayed, tf_keras.optimizers.Adam)
    assert _rates(decayed, [0, 5, 10]) == pytest.approx(
        [1.0, 0.5, 0.0], abs=1e-6
    )


def test_unknown_input_dimensions_need_a_parity_shape():
    model = models.get("simple_cnn", input_shape=(None, None, 1))
    with pytest.raises(ValueError, match="parity_input_shape=None"):
        bridge.to_tf_keras(model)
    legacy = bridge.to_tf_keras(model, parity_input_shape=(16, 16, 1))
    assert bridge.max_output_difference(model, legacy, (20, 20, 1)) <= ATOL


def _scaled_dense(scale):
    """A model whose outputs are of order `scale`."""
    inputs = keras.Input((8,))
    outputs = keras.layers.Dense(4, name="head")(inputs)
    model = keras.Model(inputs, outputs, name="scaled")
    kernel, bias = model.get_layer("head").get_weights()
    model.get_layer("head").set_weights([kernel * scale, bias])
    return model


def _perturbed_copy(model, relative):
    copy = keras.models.clone_model(model)
    copy.set_weights([w * (1 + relative) for w in model.get_weights()])
    return copy


def test_parity_is_judged_relative_to_the_output_scale():
    # Outputs of order 1e4: a float32 round-off sized difference (1e-7
    # relative) is ~1e-3 absolute, far above any absolute bound of 1e-5,
    # and still agreement.
    model = _scaled_dense(1e4)
    diff, scale = bridge.parity(model, _perturbed_copy(model, 1e-7))
    assert scale > 1e3 and 1e-5 < diff < 1e-5 * scale
    # A real difference (1e-3 relative) is refused, with what was measured.
    with pytest.raises(
        bridge.ParityError,
        match=r"differs from the source: max \|difference\| = .* on outputs "
        r"of scale .* \(relative 0\.001\); bound atol \+ rtol \* scale",
    ):
        bridge.parity(model, _perturbed_copy(model, 1e-3))
    # Small outputs keep a tight absolute floor.
    small = _scaled_dense(1e-3)
    with pytest.raises(bridge.ParityError):
        bridge.parity(small, _perturbed_copy(small, 1e-2), atol=1e-9)
    with pytest.raises(ValueError, match="Received: rtol=-1"):
        bridge.parity(model, model, rtol=-1)


def test_grouped_convolutions_rebuild_exactly():
    """Both Keras take `groups` on Conv2D: a grouped convolution is
    rebuilt with it, not refused (docs/compress.md)."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 4))
    x = keras.layers.Conv2D(8, 3, groups=2, padding="same", name="g")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    legacy = bridge.to_tf_keras(model)
    assert legacy.get_layer("g").get_config()["groups"] == 2
    assert bridge.max_output_difference(model, legacy) == 0.0
    back = bridge.to_keras3(legacy)
    assert back.get_layer("g").get_config()["groups"] == 2
