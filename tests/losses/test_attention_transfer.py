import keras
import numpy as np
import pytest

from kd_toolkit import losses
from tests.losses.helpers import make_inputs


def _at(x):
    a = (np.abs(x) ** 2).mean(axis=-1).reshape(x.shape[0], -1)
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def test_attention_transfer_matches_hand_computation():
    rng = np.random.default_rng(0)
    t = rng.normal(size=(2, 4, 4, 8))
    s = rng.normal(size=(2, 4, 4, 3))
    loss = losses.AttentionTransfer([("t1", "s1")], weight=10.0)
    out = loss.compute(
        make_inputs(teacher_features={"t1": t}, student_features={"s1": s})
    )
    expected = 10.0 / 2 * ((_at(s) - _at(t)) ** 2).mean(axis=-1)
    np.testing.assert_allclose(np.asarray(out["at_loss"]), expected, rtol=1e-5)


def test_attention_transfer_pools_the_larger_map():
    rng = np.random.default_rng(1)
    t = rng.normal(size=(2, 4, 4, 8))
    s = rng.normal(size=(2, 8, 8, 3))
    s_pooled = s.reshape(2, 4, 2, 4, 2, 3).mean(axis=(2, 4))
    loss = losses.AttentionTransfer([("t", "s")], weight=2.0)
    out = loss.compute(
        make_inputs(teacher_features={"t": t}, student_features={"s": s})
    )
    expected = ((_at(s_pooled) - _at(t)) ** 2).mean(axis=-1)
    np.testing.assert_allclose(np.asarray(out["at_loss"]), expected, rtol=1e-5)


def test_attention_transfer_sums_several_pairs():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 4, 4, 8)), rng.normal(size=(2, 2, 2, 8))
    c, d = rng.normal(size=(2, 4, 4, 3)), rng.normal(size=(2, 2, 2, 3))
    feats_t, feats_s = {"a": a, "b": b}, {"c": c, "d": d}
    both = losses.AttentionTransfer([("a", "c"), ("b", "d")], weight=2.0)
    one = losses.AttentionTransfer([("a", "c")], weight=2.0)
    two = losses.AttentionTransfer([("b", "d")], weight=2.0)
    inputs = make_inputs(teacher_features=feats_t, student_features=feats_s)
    np.testing.assert_allclose(
        np.asarray(both.compute(inputs)["at_loss"]),
        np.asarray(one.compute(inputs)["at_loss"])
        + np.asarray(two.compute(inputs)["at_loss"]),
        rtol=1e-6,
    )
    assert both.teacher_feature_names() == ("a", "b")
    assert both.student_feature_names() == ("c", "d")


@pytest.mark.parametrize("pairs", [[], "stage1_out", [("a",)], [("a", 3)]])
def test_attention_transfer_rejects_bad_pairs(pairs):
    with pytest.raises(ValueError, match="Received"):
        losses.AttentionTransfer(pairs)


def test_attention_transfer_rejects_vectors():
    loss = losses.AttentionTransfer([("a", "b")])
    with pytest.raises(ValueError, match="4-D activation maps"):
        loss.build_from_features({"a": (None, 10)}, {"b": (None, 4, 4, 3)})


def test_attention_transfer_serialization_round_trip():
    loss = losses.AttentionTransfer([("a", "b"), ("c", "d")], p=3.0)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss)
    )
    assert restored.layer_pairs == (("a", "b"), ("c", "d"))
    assert restored.p == 3.0
