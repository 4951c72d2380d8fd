import pytest

from kd_toolkit.export import latency_table as lt


def test_bad_threads_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"Received: latency_threads=\(0,"):
        lt.check_threads([0, 2])
    with pytest.raises(ValueError, match="must not be empty"):
        lt.latency_table({}, None, threads=())
    with pytest.raises(ValueError, match=r"paths\['x'\]"):
        lt.latency_table({"x": tmp_path / "model.h5"}, [[0.0]])
