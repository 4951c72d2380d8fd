"""Tests of export_and_verify's option groups."""

import dataclasses

import pytest

from kd_toolkit.export import Conversion
from kd_toolkit.export import ExtraChecks
from kd_toolkit.export import Timing
from kd_toolkit.export.export_options import check_option


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: Timing(runs=0), ValueError, r"Received: runs=0"),
        (lambda: Timing(warmup=-1), ValueError, r"Received: warmup=-1"),
        (lambda: Timing(num_threads=0), ValueError, r"Received: num_threads=0"),
        (lambda: Timing(runs=2.5), TypeError, r"Received: runs=2\.5"),
        (
            lambda: Timing(table_threads=(1, 0)),
            ValueError,
            r"Received: table_threads=\(1, 0\)",
        ),
        (lambda: Conversion(opset=5), ValueError, r"Received: opset=5"),
        (
            lambda: Conversion(representative_samples=0),
            ValueError,
            r"Received: representative_samples=0",
        ),
    ],
)
def test_bad_values_name_the_field(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_table_threads_become_a_tuple_and_options_are_frozen():
    timing = Timing(table_threads=[2, 1])
    assert timing.table_threads == (2, 1)
    assert Timing(table_threads=()).table_threads == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        timing.runs = 3


def test_extra_checks_all_and_defaults():
    assert ExtraChecks() == ExtraChecks(False, False, False)
    assert ExtraChecks.all() == ExtraChecks(True, True, True)


def test_check_option():
    assert check_option(None, Timing, "timing") == Timing()
    timing = Timing(runs=3)
    assert check_option(timing, Timing, "timing") is timing
    with pytest.raises(TypeError, match="`timing` must be a kd_toolkit"):
        check_option(Conversion(), Timing, "timing")
