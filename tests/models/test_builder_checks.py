"""Tests for kd_toolkit.models.builder_checks."""

import numpy as np
import pytest

from kd_toolkit.models import builder_checks


def test_valid_shapes_pass_and_come_back_as_tuples():
    assert builder_checks.check_input_shape([28, 28, 1], 4) == (28, 28, 1)
    assert builder_checks.check_input_shape((None, None, 3), 4) == (
        None,
        None,
        3,
    )
    assert builder_checks.check_input_shape((np.int64(4), 4, 3), 4) == (4, 4, 3)


# Cases are looped, not parametrized: each pytest test pays ~0.3 s of
# `clear_session` teardown, and these checks build nothing.
BAD_SHAPES = [
    ((28, 28), "rank-3"),
    ("28x28", "rank-3"),
    ((28, 28, None), "channels"),
    ((28, 0, 1), "width must be a positive int"),
    ((-1, 28, 1), "height must be a positive int"),
    ((28.0, 28, 1), "height must be a positive int"),
    ((True, 28, 1), "height must be a positive int"),
    ((3, 28, 1), "at least 4"),
]


def test_bad_shapes_raise():
    for shape, match in BAD_SHAPES:
        with pytest.raises(
            ValueError, match=match + ".*Received: input_shape="
        ):
            builder_checks.check_input_shape(shape, 4)


def test_bad_num_classes_raise():
    for value in (1, 0, -3, 2.0, True, "10", None):
        with pytest.raises(
            ValueError, match=r"int >= 2\. Received: num_classes="
        ):
            builder_checks.check_num_classes(value)
    assert builder_checks.check_num_classes(np.int32(2)) == 2


def test_rates_and_weight_decay():
    assert builder_checks.check_rate(0, "dropout") == 0.0
    assert builder_checks.check_weight_decay(5e-4) == 5e-4
    for bad in (-0.1, 1.0, float("nan"), "0.1"):
        with pytest.raises(ValueError, match="Received: dropout="):
            builder_checks.check_rate(bad, "dropout")
    for bad in (-1e-4, float("nan"), None):
        with pytest.raises(ValueError, match="Received: weight_decay="):
            builder_checks.check_weight_decay(bad)
