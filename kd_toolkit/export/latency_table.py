"""Latency of every artifact on the threads and delegates a device offers."""

import dataclasses

import numpy as np

from kd_toolkit.export.latency import DEFAULT_RUNS
from kd_toolkit.export.latency import DEFAULT_WARMUP
from kd_toolkit.export.latency import measure_latency
from kd_toolkit.export.runners import LiteRTRunner
from kd_toolkit.export.runners import OnnxRunner
from kd_toolkit.utils.validation import check_ints

DEFAULT_THREADS = (1, 2)
XNNPACK, BUILTIN, ONNX_CPU = "xnnpack", "builtin", "cpu"
# The row every other row is divided by (same threads, same delegate; the
# ONNX rows by the float32 TFLite row with XNNPACK).
REFERENCE = "tflite_float32"


@dataclasses.dataclass(frozen=True)
class LatencyRow:
    """Batch-1 latency of one artifact in one runtime configuration.

    Args:
        artifact: str. Format name (`"tflite_int8"`, `"onnx"`, ...).
        runtime: str. `"litert"` or `"onnxruntime"`.
        threads: int. Interpreter or intra-op threads.
        delegate: str. `"xnnpack"` (LiteRT's default delegate), `"builtin"`
            (LiteRT's built-in kernels, no default delegate) or `"cpu"`
            (onnxruntime's CPU execution provider).
        median_ms, p90_ms: float. Over `runs` timed calls after warm-up.
        runs: int. Timed calls.
        vs_float32: float or None. `median_ms` over the float32 TFLite
            artifact's in the same configuration (None without one).
    """

    artifact: str
    runtime: str
    threads: int
    delegate: str
    median_ms: float
    p90_ms: float
    runs: int
    vs_float32: float | None


def latency_table(
    paths,
    sample,
    threads=DEFAULT_THREADS,
    runs=DEFAULT_RUNS,
    warmup=DEFAULT_WARMUP,
):
    """Times each artifact at batch 1 on each thread count and delegate.

    LiteRT files run with its default delegate (XNNPACK) and without it
    (`OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES`); ONNX files in
    onnxruntime on the CPU. Every configuration gets a fresh interpreter,
    `warmup` untimed calls, then `runs` timed ones. Ratios are to the
    float32 TFLite file in the same configuration, measured in the same
    call, so they compare on one machine under one load.

    Args:
        paths: dict, format name -> `.tflite` or `.onnx` path (passing
            artifacts only).
        sample: float32 array `(1, *input_shape)` in the model's float
            input range (quantized inputs are quantized for the file).
        threads: iterable of int >= 1. Thread counts. Defaults to `(1, 2)`.
        runs: int > 0. Timed calls per configuration. Defaults to `200`.
        warmup: int >= 0. Untimed calls first. Defaults to `20`.

    Returns:
        A tuple of `LatencyRow`, in the order of `paths`, threads, delegate.

    Raises:
        ValueError: on an empty or non-positive thread count, or a file
            that is neither `.tflite` nor `.onnx`.
    """
    threads = check_threads(threads)
    if not threads:
        raise ValueError(
            f"`threads` must not be empty. Received: threads={threads!r}"
        )
    sample = np.asarray(sample, np.float32)
    measured = []
    for name, path in paths.items():
        suffix = str(path).rsplit(".", 1)[-1]
        if suffix not in ("tflite", "onnx"):
            raise ValueError(
                "Expected `.tflite` or `.onnx` files. Received: "
                f"paths[{name!r}]={str(path)!r}"
            )
        for count in threads:
            if suffix == "onnx":
                configs = [
                    (
                        "onnxruntime",
                        ONNX_CPU,
                        OnnxRunner(path, num_threads=count),
                    )
                ]
            else:
                configs = [
                    (
                        "litert",
                        delegate,
                        LiteRTRunner(
                            path,
                            num_threads=count,
                            use_xnnpack=delegate == XNNPACK,
                        ),
                    )
                    for delegate in (XNNPACK, BUILTIN)
                ]
            for runtime, delegate, runner in configs:
                stats = measure_latency(
                    runner.single_call(sample), runs, warmup
                )
                measured.append((name, runtime, count, delegate, stats))
    reference = {
        (threads_, delegate): stats.median_ms
        for name, _, threads_, delegate, stats in measured
        if name == REFERENCE
    }
    rows = []
    for name, runtime, count, delegate, stats in measured:
        base = reference.get(
            (count, XNNPACK if delegate == ONNX_CPU else delegate)
        )
        rows.append(
            LatencyRow(
                artifact=name,
                runtime=runtime,
                threads=count,
                delegate=delegate,
                median_ms=stats.median_ms,
                p90_ms=stats.p90_ms,
                runs=stats.runs,
                vs_float32=None if base is None else stats.median_ms / base,
            )
        )
    return tuple(rows)


def check_threads(threads, name="latency_threads"):
    """Returns `threads` as a tuple of ints >= 1 (possibly empty), or raises
    a `ValueError` naming it `name`."""
    threads = tuple(threads)
    if not threads:
        return ()
    return check_ints(name, threads, minimum=1)


def to_markdown(rows):
    """The table of `latency_table` rows as Markdown lines."""
    lines = [
        "| artifact | runtime | threads | delegate | p50 (ms) | "
        "p90 (ms) | p50 vs float32 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = "n/a" if r.vs_float32 is None else f"{r.vs_float32:.2f}×"
        lines.append(
            f"| {r.artifact} | {r.runtime} | {r.threads} | "
            f"{r.delegate} | {r.median_ms:.3f} | {r.p90_ms:.3f} | "
            f"{ratio} |"
        )
    return lines
