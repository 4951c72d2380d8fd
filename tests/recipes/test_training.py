import keras
import numpy as np
import tensorflow as tf

from kd_toolkit.recipes import training


def test_evaluate_against_a_hand_computation():
    # An identity layer: the logits are the inputs.
    model = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(2, use_bias=False)]
    )
    model.set_weights([np.eye(2, dtype="float32")])
    x = np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0]], "float32")
    y = np.array([0, 0, 1])
    accuracy, ce = training.evaluate(
        model, tf.data.Dataset.from_tensor_slices((x, y)).batch(2)
    )
    assert accuracy == 1 / 3  # only the first is right
    # −log softmax: log(1 + e^(other − own)).
    want = np.mean(
        [np.log1p(np.exp(-2.0)), np.log1p(np.exp(1.0)), np.log1p(np.exp(1.0))]
    )
    np.testing.assert_allclose(ce, want, rtol=1e-6)


def test_same_seed_same_initial_weights():
    a, b = (
        training.build_model("resnet8", (16, 16, 1), 10, width=4, seed=3)
        for _ in range(2)
    )
    c = training.build_model("resnet8", (16, 16, 1), 10, width=4, seed=4)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert any(
        not np.array_equal(wa, wc)
        for wa, wc in zip(a.get_weights(), c.get_weights())
    )


def test_cosine_adam_decays_to_zero():
    schedule = training.cosine_adam(0.01, steps=10)._learning_rate
    np.testing.assert_allclose(float(schedule(0)), 0.01)
    assert float(schedule(10)) == 0.0
