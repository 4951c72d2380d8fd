import keras
import numpy as np
import pytest

from kd_toolkit.adaptation import FrozenLayer


def _x():
    return np.random.default_rng(0).normal(size=(4, 3, 3, 2)).astype("float32")


def test_batch_norm_uses_moving_statistics_under_training():
    bn = keras.layers.BatchNormalization()
    bn.build((None, 3, 3, 2))
    bn.set_weights([np.ones(2), np.zeros(2), np.full(2, 5.0), np.full(2, 4.0)])
    frozen = FrozenLayer(bn)
    x = _x()
    expected = (x - 5.0) / np.sqrt(4.0 + bn.epsilon)
    np.testing.assert_allclose(frozen(x, training=True), expected, rtol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), [5.0, 5.0])


def test_dropout_is_off_under_training():
    frozen = FrozenLayer(keras.layers.Dropout(0.9))
    x = _x()
    np.testing.assert_array_equal(frozen(x, training=True), x)


def test_shares_the_layer_and_freezes_it():
    conv = keras.layers.Conv2D(3, 1, name="conv")
    conv.build((None, 3, 3, 2))
    frozen = FrozenLayer(conv)
    assert frozen.layer is conv
    assert frozen.name == "conv"
    assert not conv.trainable and not frozen.trainable
    assert frozen.trainable_weights == []
    assert len(frozen.non_trainable_weights) == 2


def test_multi_input_layer():
    frozen = FrozenLayer(keras.layers.Add())
    x = _x()
    np.testing.assert_allclose(frozen([x, x]), 2 * x)


def test_rejects_non_layers():
    with pytest.raises(TypeError, match="keras.layers.Layer"):
        FrozenLayer("conv")


def test_save_and_load_in_a_model(tmp_path):
    inputs = keras.Input((3, 3, 2))
    conv = keras.layers.Conv2D(3, 1, name="conv")
    outputs = FrozenLayer(keras.layers.BatchNormalization(name="bn"))(
        FrozenLayer(conv)(inputs)
    )
    model = keras.Model(inputs, outputs)
    bn = model.get_layer("bn").layer
    bn.set_weights(
        [np.full(3, 2.0), np.ones(3), np.full(3, 0.5), np.full(3, 3.0)]
    )
    path = tmp_path / "frozen.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = _x()
    assert isinstance(loaded.get_layer("conv"), FrozenLayer)
    np.testing.assert_allclose(loaded(x, training=True), model(x), atol=1e-6)
    assert loaded.trainable_weights == []
