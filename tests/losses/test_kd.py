import math

import keras
import numpy as np
import pytest

from kd_toolkit import losses
from tests.losses.helpers import make_inputs


def _softmax(z):
    e = [math.exp(v) for v in z]
    return [v / sum(e) for v in e]


def test_kd_matches_hand_computation():
    t, s, tau = [2.0, 0.0, -1.0], [0.5, 0.5, 0.0], 2.0
    p = _softmax([v / tau for v in t])
    q = _softmax([v / tau for v in s])
    expected = tau**2 * sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))
    loss = losses.KD(temperature=tau, weight=0.5)
    out = loss.compute(
        make_inputs(teacher_logits=[t, s], student_logits=[s, s])
    )
    values = np.asarray(out["kd_loss"])
    assert values.shape == (2,)
    np.testing.assert_allclose(values[0], 0.5 * expected, rtol=1e-5)
    np.testing.assert_allclose(values[1], 0.0, atol=1e-7)


def test_kd_is_float32_under_float16_inputs():
    t = keras.ops.convert_to_tensor([[30.0, -30.0, 0.0]], dtype="float16")
    inputs = losses.LossInputs(
        labels=None,
        teacher_logits=t,
        student_logits=t[:, ::-1],
        teacher_features={},
        student_features={},
        training=False,
    )
    out = losses.KD(1.0).compute(inputs)
    assert keras.backend.standardize_dtype(out["kd_loss"].dtype) == "float32"
    assert np.isfinite(np.asarray(out["kd_loss"])).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        # The message states the real bound: 0 is refused too.
        (
            {"temperature": -1},
            r"must be a finite number > 0\. "
            r"Received: temperature=-1",
        ),
        ({"temperature": 0}, r"> 0\. Received: temperature=0"),
        ({"temperature": float("nan")}, r"Received: temperature=nan"),
        ({"weight": -0.5}, r"Received: weight=-0.5"),
    ],
)
def test_kd_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        losses.KD(**kwargs)


def test_kd_rejects_non_numbers():
    with pytest.raises(TypeError, match="Received: temperature='4'"):
        losses.KD(temperature="4")


def test_kd_serialization_round_trip():
    loss = losses.KD(temperature=3.0, weight=0.7)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss)
    )
    assert isinstance(restored, losses.KD)
    assert restored.get_config() == loss.get_config()
    assert restored.temperature == 3.0 and restored.weight == 0.7


def test_registry_lists_valid_names():
    assert isinstance(losses.get("kd", temperature=2.0), losses.KD)
    with pytest.raises(
        ValueError,
        match=r"Expected one of .*'kd'.*"
        r"Received: loss='kdd'",
    ):
        losses.get("kdd")
