import pytest

from kd_toolkit.export.latency_table import check_threads
from kd_toolkit.export.latency_table import latency_table


def test_bad_threads_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"Received: latency_threads=\(0,"):
        check_threads([0, 2])
    with pytest.raises(ValueError, match="must not be empty"):
        latency_table({}, None, threads=())
    with pytest.raises(ValueError, match=r"paths\['x'\]"):
        latency_table({"x": tmp_path / "model.h5"}, [[0.0]])
