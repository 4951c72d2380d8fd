"""Microcontroller fit of an int8 `.tflite`: tensor arena and flash.

The TensorFlow Lite Micro interpreter (PyPI `tflite-micro`) runs the model
as a microcontroller would, from one preallocated tensor arena. The
smallest arena it accepts is found by bisection, and its outputs are
compared with LiteRT's. Without `tflite-micro`, the arena is estimated
from the model's tensor lifetimes instead, and labelled as an estimate.
"""

import dataclasses
import pathlib
import subprocess
import sys

import numpy as np

from kd_toolkit.export import tflite_inspect
from kd_toolkit.export.parity import compare_outputs
from kd_toolkit.export.runners import LiteRTRunner
from kd_toolkit.export.runners import dequantize
from kd_toolkit.export.runners import quantize
from kd_toolkit.utils import validation

# Arena sizes are searched up to this bound; a model that does not
# allocate there fails for another reason (an op TFLM lacks).
MAX_ARENA_BYTES = 64 * 1024 * 1024
# TFLM aligns its allocations to 16 bytes.
ARENA_GRANULARITY = 16
RUNTIMES = ("auto", "tflm", "estimate")


@dataclasses.dataclass(frozen=True)
class MicroFit:
    """What a microcontroller needs to run one artifact.

    Args:
        artifact: the artifact's format name, e.g. `"tflite_int8"`.
        flash_bytes: the model flatbuffer's size: what goes to flash (the
            interpreter's code is not counted).
        arena_bytes: tensor-arena bytes: the smallest arena the TFLM
            interpreter allocates the model in (`measured`), else the
            estimate.
        measured: True when TFLM ran the model; False for the estimate.
        method: how `arena_bytes` was obtained.
        parity_samples: inputs compared between TFLM and LiteRT (0 when
            TFLM did not run).
        max_diff_steps: largest output difference between TFLM and LiteRT
            (built-in kernels), in output quantization steps.
        top1_agreement: fraction of those inputs with the same top-1.
        note: why TFLM did not run, when it did not.
    """

    artifact: str
    flash_bytes: int
    arena_bytes: int
    measured: bool
    method: str
    parity_samples: int = 0
    max_diff_steps: float | None = None
    top1_agreement: float | None = None
    note: str = ""


def _tflm_runtime():
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError as error:
        return None, f"tflite-micro is not installed ({error})"
    return runtime, ""


# The arena search runs in a child process: TFLM can crash (not raise) on
# some arenas that are too small, which must not take the caller down. The
# child reports each attempt before and after it; after a crash the parent
# records the size it died on as too small and starts a new child.
_SEARCH = """
import sys
from tflite_micro.python.tflite_micro import runtime
content = open(sys.argv[1], "rb").read()
low, high, limit, step, first = (int(a) for a in sys.argv[2:7])
def allocates(size):
    print("try", size, flush=True)
    try:
        runtime.Interpreter.from_bytes(content, arena_size=size)
    except RuntimeError:
        print("fail", size, flush=True)
        return False
    print("ok", size, flush=True)
    return True
while high == 0:  # no size known to work yet: grow from low
    size = min(limit, first if first > low else max(1024, 2 * low))
    if allocates(size):
        high = size
    elif size >= limit:
        print("never", flush=True)
        sys.exit(0)
    else:
        low = size
while high - low > step:
    middle = (low + high) // 2
    if allocates(middle):
        high = middle
    else:
        low = middle
print("done", high, flush=True)
"""


def minimal_arena_bytes(path):
    """The smallest tensor arena TFLM allocates the model in, to 16 bytes.

    The search (first at `estimate_arena_bytes`, then doubling until the
    model allocates, then bisecting down) runs in a child process,
    restarted past any arena size that crashes TFLM.

    Args:
        path: str or `os.PathLike`. The `.tflite` file.

    Raises:
        ImportError: if `tflite-micro` is missing.
        RuntimeError: if the model does not allocate in 64 MiB either (an
            op TFLM does not have, a float model, ...).
    """
    runtime, why = _tflm_runtime()
    if runtime is None:
        raise ImportError(why)
    estimate = estimate_arena_bytes(pathlib.Path(path).read_bytes())
    low, high = 0, 0  # low: too small; high: allocates (0: none known yet)
    for _ in range(64):
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                _SEARCH,
                str(path),
                str(low),
                str(high),
                str(MAX_ARENA_BYTES),
                str(ARENA_GRANULARITY),
                str(estimate),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        tried = None
        for line in result.stdout.splitlines():
            word, *value = line.split()
            if word == "done":
                return int(value[0])
            if word == "never":
                raise RuntimeError(
                    f"TFLM cannot allocate the model in {MAX_ARENA_BYTES} "
                    "bytes (an op it lacks?): "
                    + " ".join(result.stderr.strip().splitlines()[-3:])
                )
            if word == "try":
                tried = int(value[0])
            elif word == "ok":
                high, tried = int(value[0]), None
            elif word == "fail":
                low, tried = int(value[0]), None
        if tried is None:
            raise RuntimeError(
                "The TFLM arena search stopped: "
                + " ".join(result.stderr.strip().splitlines()[-3:])
            )
        low = tried  # the child crashed on it: too small
    raise RuntimeError("The TFLM arena search crashed 64 times.")


def estimate_arena_bytes(content):
    """Peak bytes of simultaneously live activation tensors (no TFLM).

    Each tensor without stored data lives from the op that writes it (the
    start, for model inputs) to the last op that reads it (the end, for
    model outputs); the estimate is the largest sum of live tensor sizes
    over the ops, batch 1. TFLM's planner needs at least this, plus its
    own bookkeeping (a few KiB).
    """
    tensors = tflite_inspect.activation_tensors(content)
    ends = [t.last_op for t in tensors] or [0]
    return max(
        sum(t.num_bytes for t in tensors if t.first_op <= position <= t.last_op)
        for position in range(max(ends) + 1)
    )


def _litert_detail(tflm_detail):
    """A TFLM tensor detail in LiteRT's form (`dtype`, `quantization`);
    `(0.0, 0)` for a float tensor, as LiteRT reports it."""
    q = tflm_detail["quantization_parameters"]
    scales, zero_points = q["scales"], q["zero_points"]
    quantization = (
        (float(scales[0]), int(zero_points[0])) if len(scales) else (0.0, 0)
    )
    return {"dtype": tflm_detail["dtype"], "quantization": quantization}


def _tflm_outputs(runtime, content, arena_bytes, samples):
    interpreter = runtime.Interpreter.from_bytes(
        content, arena_size=arena_bytes
    )
    input_detail = _litert_detail(interpreter.get_input_details(0))
    output_detail = _litert_detail(interpreter.get_output_details(0))
    quantized_in = np.issubdtype(input_detail["dtype"], np.integer)
    quantized_out = np.issubdtype(output_detail["dtype"], np.integer)
    outputs = []
    for sample in samples:
        x = sample[None].astype("float32")
        if quantized_in:
            x = quantize(x, input_detail)
        interpreter.set_input(x.astype(input_detail["dtype"]), 0)
        interpreter.invoke()
        y = interpreter.get_output(0)
        y = (
            dequantize(y, output_detail)
            if quantized_out
            else y.astype("float32")
        )
        outputs.append(y[0])
    scale = output_detail["quantization"][0] if quantized_out else None
    return np.stack(outputs), scale


def micro_fit(path, samples=None, artifact=None, runtime="auto"):
    """Tensor arena and flash an artifact needs on a microcontroller.

    Args:
        path: str or `os.PathLike`. The `.tflite` file (int8 for TFLM).
        samples: optional float32 inputs `(N, ...)`: with TFLM, its outputs
            on them are compared with LiteRT's (built-in kernels).
        artifact: name for the report (defaults to the file name).
        runtime: `"auto"` (TFLM when installed, else the estimate),
            `"tflm"` (raise without it) or `"estimate"`.

    Returns:
        `MicroFit`.

    Raises:
        ValueError: if `runtime` is not one of `RUNTIMES`.
        ImportError: for `runtime="tflm"` without `tflite-micro`.
    """
    validation.check_choice("runtime", runtime, RUNTIMES)
    path = pathlib.Path(path)
    content = path.read_bytes()
    base = {"artifact": artifact or path.name, "flash_bytes": len(content)}
    tflm, why = (
        (None, "estimate requested")
        if runtime == "estimate"
        else (_tflm_runtime())
    )
    if tflm is None and runtime == "tflm":
        raise ImportError(
            f"runtime='tflm' needs tflite-micro: {why}. "
            "Install it with `pip install tflite-micro`."
        )
    if tflm is not None:
        try:
            arena = minimal_arena_bytes(path)
        except RuntimeError as error:
            tflm, why = None, str(error)
    if tflm is None:
        return MicroFit(
            **base,
            arena_bytes=estimate_arena_bytes(content),
            measured=False,
            method="estimate: peak of simultaneously live activations "
            "(LiteRT tensor lifetimes, batch 1); TFLM did not run",
            note=why,
        )
    fit = MicroFit(
        **base,
        arena_bytes=arena,
        measured=True,
        method="TFLM interpreter (tflite-micro): smallest arena "
        "that allocates, found by bisection",
    )
    if samples is None or not len(samples):
        return fit
    samples = np.asarray(samples, dtype="float32")
    micro, scale = _tflm_outputs(tflm, content, arena, samples)
    litert = LiteRTRunner(path, use_xnnpack=False).predict(samples)
    parity = compare_outputs(litert, micro)
    return dataclasses.replace(
        fit,
        parity_samples=len(samples),
        max_diff_steps=(
            parity.max_abs_diff / scale if scale else parity.max_abs_diff
        ),
        top1_agreement=parity.top1_agreement,
    )
