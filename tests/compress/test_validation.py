"""Tests of the shared argument checks."""

import pytest

from kd_toolkit.compress import validation


def test_valid_values_pass_through():
    assert validation.check_int("epochs", 3, 1) == 3
    assert validation.check_optional_int("end_step", None, 1) is None
    assert validation.check_fraction("target_sparsity", 0.5) == 0.5
    assert isinstance(validation.check_fraction("target_sparsity", 0.5),
                      float)


@pytest.mark.parametrize("call, error, match", [
    (lambda: validation.check_int("epochs", 0, 1), ValueError,
     "must be >= 1. Received: epochs=0"),
    (lambda: validation.check_int("epochs", 2.0, 1), TypeError,
     "Received: epochs=2.0 of type float"),
    (lambda: validation.check_int("epochs", True, 1), TypeError,
     "Received: epochs=True"),
    (lambda: validation.check_optional_int("end_step", -3, 1), ValueError,
     "Received: end_step=-3"),
    (lambda: validation.check_fraction("target_sparsity", 0), ValueError,
     r"in \(0, 1\)\. Received: target_sparsity=0"),
    (lambda: validation.check_fraction("target_sparsity", float("nan")),
     ValueError, "Received: target_sparsity=nan"),
])
def test_bad_values(call, error, match):
    with pytest.raises(error, match=match):
        call()
