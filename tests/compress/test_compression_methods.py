"""Tests of parsing compression method names."""

import pytest

from kd_toolkit.compress.compression_methods import CompressionMethod
from kd_toolkit.compress.compression_methods import parse_methods


def test_parse_string_and_sequence():
    expected = (
        CompressionMethod("prune50", "prune", 0.5),
        CompressionMethod("prune5", "prune", 0.05),
        CompressionMethod("qat", "qat"),
        CompressionMethod("ptq_int8", "ptq_int8"),
    )
    assert parse_methods("prune50, prune5,qat,ptq_int8") == expected
    assert parse_methods(["prune50", "prune5", "qat", "ptq_int8"]) == expected


@pytest.mark.parametrize(
    "methods, match",
    [
        ("", "at least one"),
        ("prune100", "Unknown compression method 'prune100'"),
        ("prune0", "Unknown compression method 'prune0'"),
        ("quantize", r"Expected one of prune<NN> .*qat, ptq_int8"),
        ("qat,qat", r"lists \['qat'\] more than once"),
    ],
)
def test_bad_methods(methods, match):
    with pytest.raises(ValueError, match=match):
        parse_methods(methods)
