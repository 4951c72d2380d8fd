import keras
import numpy as np
import pytest

from kd_toolkit import losses
from tests.losses.helpers import make_inputs


def test_hint_matches_hand_computation_through_its_connector():
    rng = np.random.default_rng(0)
    t = rng.normal(size=(2, 4, 4, 6))
    s = rng.normal(size=(2, 8, 8, 3))
    loss = losses.Hint("t", "s", weight=3.0)
    loss.build_from_features({"t": t.shape}, {"s": s.shape})
    kernel = loss.connector.get_layer("connector_conv").kernel.numpy()
    assert kernel.shape == (1, 1, 3, 6)
    out = loss.compute(
        make_inputs(teacher_features={"t": t}, student_features={"s": s})
    )
    # Stride-2 1x1 conv, then BN in inference mode with its initial
    # statistics (mean 0, variance 1, epsilon 1e-3).
    r = np.einsum("bhwc,cd->bhwd", s[:, ::2, ::2, :], kernel[0, 0])
    r = r / np.sqrt(1.0 + 1e-3)
    expected = 3.0 * ((r - t) ** 2).reshape(2, -1).mean(axis=-1)
    np.testing.assert_allclose(
        np.asarray(out["hint_loss"]), expected, rtol=1e-4
    )


def test_hint_dense_connector_for_vectors():
    loss = losses.Hint("t", "s")
    loss.build_from_features({"t": (None, 16)}, {"s": (None, 4)})
    out = loss.compute(
        make_inputs(
            teacher_features={"t": np.ones((3, 16))},
            student_features={"s": np.ones((3, 4))},
        )
    )
    assert np.asarray(out["hint_loss"]).shape == (3,)


def test_hint_rejects_rank_mismatch():
    loss = losses.Hint("t", "s")
    with pytest.raises(ValueError, match="teacher layer 't' with shape"):
        loss.build_from_features({"t": (None, 4, 4, 8)}, {"s": (None, 4)})


def test_hint_rejects_empty_layer_name():
    with pytest.raises(ValueError, match="Received: teacher_layer=''"):
        losses.Hint("", "s")


def test_hint_serialization_round_trip():
    loss = losses.Hint("t", "s", weight=0.25)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss)
    )
    assert (
        restored.teacher_layer,
        restored.student_layer,
        restored.weight,
    ) == ("t", "s", 0.25)
