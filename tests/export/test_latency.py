import time

import pytest

from kd_toolkit.export import measure_latency


def test_latency_of_a_known_sleep():
    calls = []

    def call():
        calls.append(1)
        time.sleep(0.002)

    stats = measure_latency(call, runs=10, warmup=3)
    assert len(calls) == 13
    assert stats.runs == 10
    assert 2.0 <= stats.median_ms <= stats.p90_ms < 200.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"runs": 0}, r"Received: runs=0"),
        ({"runs": True}, r"Received: runs=True"),
        ({"warmup": -1}, r"Received: warmup=-1"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        measure_latency(lambda: None, **kwargs)
