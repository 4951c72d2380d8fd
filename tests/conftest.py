"""Shared pytest set-up: quiet TensorFlow, deterministic seeds."""

import os


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# Under pytest-xdist, each worker (and every process it starts: command
# lines, notebook kernels) gets its share of the cores for TensorFlow's
# thread pools, instead of each sizing its pools to every core. On a
# 2-core machine with two workers, tests/compress + tests/recipes took
# 289 s this way against 300 s with the default pools (one run each: a
# small gain, and no oversubscription in processes the tests start). Must
# run before TensorFlow starts.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _share = max(1, _cores() // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(_share))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", str(_share))

# `jit_compile="auto"` turns XLA on for CPUs where it makes long training
# faster (kd_toolkit.utils.cpu); the suite's fits are a few steps each, where
# compiling costs more than it saves, so they run without it (processes the
# tests start inherit this). The XLA tests ask for it explicitly.
os.environ.setdefault("KD_TOOLKIT_CPU_XLA", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402 (after the environment above)
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session(free_memory=False)


def pytest_collection_modifyitems(items):
    """Files with slow (real-data) tests first, each file's tests in their
    order. pytest-xdist hands files to its workers in collection order
    (`--dist loadfile`): a long file left for the end would keep one worker
    busy while the other sits idle."""
    slow_files = {i.path for i in items if i.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)
