"""Tests of counting zeros in weights."""

import keras
import numpy as np
import pytest

from kd_toolkit.compress.sparsity import sparsity_report


def _model():
    inputs = keras.Input((4,), name="input")
    x = keras.layers.Dense(2, name="a")(inputs)
    x = keras.layers.Dense(2, name="b", use_bias=False)(x)
    model = keras.Model(inputs, x)
    # a: kernel 4x2 with 6 zeros, bias [0, 1]; b: kernel 2x2 with 1 zero.
    a = np.ones((4, 2), "float32")
    a.flat[:6] = 0
    model.get_layer("a").set_weights([a, np.array([0.0, 1.0], "float32")])
    model.get_layer("b").set_weights([np.array([[0, 2], [3, 4]], "float32")])
    return model


def test_default_selects_every_kernel():
    report = sparsity_report(_model())
    assert report.weights == {"a/kernel": 0.75, "b/kernel": 0.25}
    assert report.num_selected == 12
    assert report.zero_fraction == pytest.approx(7 / 12)
    assert report.num_total == 14
    assert report.model_zero_fraction == pytest.approx(8 / 14)


def test_named_weights():
    report = sparsity_report(_model(), {"a": ["kernel", "bias"]})
    assert report.weights == {"a/kernel": 0.75, "a/bias": 0.5}
    assert report.zero_fraction == pytest.approx(7 / 10)
    assert report.to_dict()["num_selected"] == 10


def test_unknown_names_raise():
    with pytest.raises(ValueError, match=r"names layers \['c'\]"):
        sparsity_report(_model(), {"c": ["kernel"]})
    with pytest.raises(
        ValueError,
        match=r"Layer 'b' has no weight\(s\) "
        r"\['bias'\]",
    ):
        sparsity_report(_model(), {"b": ["bias"]})
