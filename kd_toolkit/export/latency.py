"""Single-image latency: median and 90th percentile of many runs."""

import dataclasses
import time

import numpy as np

DEFAULT_RUNS = 200
DEFAULT_WARMUP = 20


@dataclasses.dataclass(frozen=True)
class LatencyStats:
    """Wall-clock latency of one call, in milliseconds.

    Args:
        median_ms: float. Median over `runs` timed calls.
        p90_ms: float. 90th percentile over `runs` timed calls.
        runs: int. Number of timed calls (after warm-up).
    """

    median_ms: float
    p90_ms: float
    runs: int


def measure_latency(call, runs=DEFAULT_RUNS, warmup=DEFAULT_WARMUP):
    """Times `call()` `runs` times after `warmup` untimed calls.

    Args:
        call: callable with no arguments, e.g. `Runner.single_call(x)`.
        runs: int > 0. Timed calls. Defaults to `200`.
        warmup: int >= 0. Untimed calls first (allocation, tracing, caches).
            Defaults to `20`.

    Returns:
        `LatencyStats`.

    Raises:
        ValueError: if `runs <= 0` or `warmup < 0`.

    Example:

    ```python
    stats = measure_latency(runner.single_call(x[:1]))
    print(stats.median_ms, stats.p90_ms)
    ```
    """
    if isinstance(runs, bool) or not isinstance(runs, int) or runs <= 0:
        raise ValueError(
            f"`runs` must be a positive int. Received: runs={runs!r}"
        )
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(
            f"`warmup` must be an int >= 0. Received: warmup={warmup!r}"
        )
    for _ in range(warmup):
        call()
    times = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter()
        call()
        times[i] = time.perf_counter() - start
    times_ms = times * 1e3
    return LatencyStats(
        median_ms=float(np.median(times_ms)),
        p90_ms=float(np.percentile(times_ms, 90)),
        runs=runs,
    )
