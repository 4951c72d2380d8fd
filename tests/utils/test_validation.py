"""The shared argument checks: values, types and messages."""

import numpy as np
import pytest

from kd_toolkit.utils import validation as v


def test_valid_values_are_normalised():
    assert v.check_int("epochs", np.int64(3), 1) == 3
    assert type(v.check_int("epochs", np.int64(3), 1)) is int
    assert v.check_int("end_step", None, 1, allow_none=True) is None
    assert v.check_positive_int("steps", 2) == 2
    assert v.check_ints("filters", [8, 16]) == (8, 16)
    assert v.check_fraction("target_sparsity", 0.5) == 0.5
    assert isinstance(v.check_non_negative("weight", 0), float)
    assert v.check_positive("temperature", 2) == 2.0
    assert v.check_number("p", 1.0, low=1, high=2) == 1.0
    assert v.check_choice("split", "test", ("train", "test")) == "test"
    assert v.check_bool("flip", False) is False
    assert v.check_name("teacher_layer", "stage2_out") == "stage2_out"


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda: v.check_int("epochs", 0, 1),
            ValueError,
            r"an int >= 1\. Received: epochs=0$",
        ),
        (
            lambda: v.check_int("epochs", 2.0, 1),
            TypeError,
            r"Received: epochs=2\.0 of type float$",
        ),
        (
            lambda: v.check_int("epochs", True, 1),
            TypeError,
            "Received: epochs=True of type bool",
        ),
        (
            lambda: v.check_int("end_step", -3, 1, allow_none=True),
            ValueError,
            r"an int >= 1 or None\. Received: end_step=-3",
        ),
        (
            lambda: v.check_ints("filters", (8, 0)),
            ValueError,
            r"Received: filters=\(8, 0\)",
        ),
        (
            lambda: v.check_ints("filters", ()),
            ValueError,
            r"Received: filters=\(\)",
        ),
        (
            lambda: v.check_ints("filters", 8),
            TypeError,
            "Received: filters=8 of type int",
        ),
        (
            lambda: v.check_fraction("target_sparsity", 0),
            ValueError,
            r"> 0 and < 1\. Received: target_sparsity=0$",
        ),
        (
            lambda: v.check_fraction("target_sparsity", float("nan")),
            ValueError,
            "Received: target_sparsity=nan",
        ),
        (
            lambda: v.check_positive("temperature", 0),
            ValueError,
            r"a finite number > 0\. Received: temperature=0$",
        ),
        (
            lambda: v.check_non_negative("weight", float("inf")),
            ValueError,
            "Received: weight=inf",
        ),
        (
            lambda: v.check_non_negative("weight", "1"),
            TypeError,
            "Received: weight='1' of type str",
        ),
        (
            lambda: v.check_bool("flip", 1),
            TypeError,
            r"`flip` must be a bool\. Received: flip=1$",
        ),
        (
            lambda: v.check_name("teacher_layer", ""),
            ValueError,
            r"a layer name, not empty\. Received: teacher_layer=''$",
        ),
        (
            lambda: v.check_name("teacher_layer", 3),
            TypeError,
            r"a layer name \(a str\)\. Received: teacher_layer=3 of type int$",
        ),
    ],
)
def test_bad_values(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_choice_lists_close_matches_and_every_choice():
    with pytest.raises(
        ValueError,
        match=(
            r"Unknown split\. Did you mean \['train'\]\? Expected one of "
            r"\['train', 'test'\]\. Received: split='trian'"
        ),
    ):
        v.check_choice("split", "trian", ("train", "test"))
    with pytest.raises(
        ValueError,
        match=(r"Unknown dataset name\. Expected one of .*Received: name=3"),
    ):
        v.check_choice("name", 3, ("a", "b"), what="dataset name")
