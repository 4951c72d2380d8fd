"""Interleaved timing, shared by the benchmarks that compare speeds."""

import time


def interleaved(calls, rounds, n, warm_up=3):
    """Times each zero-arg callable of `calls` in interleaved rounds.

    Each callable first runs `warm_up` times (tracing, compiling, warming
    caches). Then each round runs `n` calls of every callable, in an order
    rotated by one each round, so that a slow spell of the machine falls on
    every callable alike.

    Returns:
        {name: [seconds per call, one entry per round]}.
    """
    for fn in calls.values():
        for _ in range(warm_up):
            fn()
    names = list(calls)
    times = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            start = time.perf_counter()
            for _ in range(n):
                calls[name]()
            times[name].append((time.perf_counter() - start) / n)
    return times
