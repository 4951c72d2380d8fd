"""TensorFlow's and LiteRT's native (C++) log lines, kept off stderr.

Importing TensorFlow on a machine without a GPU prints, from C++, lines
such as "oneDNN custom operations are on", "Could not find cuda drivers
on your machine" and "failed call to cuInit"; each TFLite conversion and
the first XNNPACK interpreter print more. `TF_CPP_MIN_LOG_LEVEL` does not
stop the ones written before absl's logging is initialised. kd_toolkit
therefore runs TensorFlow's import, its converters, its interpreters'
creation and its command lines with file descriptor 2 going through a
filter that passes on every line except those native log lines
(informational and warning lines, and the error lines about absent CUDA
drivers): Python's own warnings and errors, and any other native error
line, still reach stderr.

They all come back with the environment variable `KD_TOOLKIT_TF_LOGS=1`,
or with absl's `--verbosity` (`-v`) flag at 1 or more on the command line
(`kd-train --verbosity=1`).
"""

import contextlib
import os
import re
import sys
import threading

ENV_VAR = "KD_TOOLKIT_TF_LOGS"

_NATIVE_LINE = re.compile(
    r"^(?P<level>[IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^\]]+\] "
)
_NOISE = (
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\)"),
    re.compile(r"^INFO: Created TensorFlow Lite XNNPACK delegate"),
    re.compile(r"^INFO: Initialized TensorFlow Lite runtime"),
    re.compile(r"^fully_quantize: \d+, inference_type: "),
    re.compile(r"^To enable the following instructions: .* rebuild TensorFlow"),
)
# Error-level lines that only say there is no GPU (expected on a CPU box).
_NO_GPU = re.compile(r"cuInit|cuda drivers|CUDA error|cuda_diagnostics", re.I)
_VERBOSITY = re.compile(r"^(?:--verbosity|-v)(?:=(?P<value>-?\d+))?$")


def wanted():
    """True when the native log lines should be shown (see module doc)."""
    if os.environ.get(ENV_VAR, "").strip().lower() in ("1", "true", "all"):
        return True
    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        match = _VERBOSITY.match(arg)
        if not match:
            continue
        value = match.group("value")
        if value is None and i + 1 < len(argv):
            value = argv[i + 1]
        try:
            if int(value) >= 1:
                return True
        except (TypeError, ValueError):
            pass
    return False


def is_noise(line):
    """True for a native log line that `filtered` drops."""
    match = _NATIVE_LINE.match(line)
    if match:
        return match.group("level") in "IW" or bool(_NO_GPU.search(line))
    return any(pattern.match(line) for pattern in _NOISE)


@contextlib.contextmanager
def filtered():
    """Runs the block with stderr (file descriptor 2) going through a
    filter that drops the native log noise and passes every other line on
    as it comes (so a whole command line can run inside it).

    Does nothing when `wanted()`, or when stderr has no file descriptor
    (some notebook kernels).
    """
    try:
        fd = sys.__stderr__.fileno() if sys.__stderr__ else None
    except (AttributeError, OSError, ValueError):
        fd = None
    if fd is None or wanted():
        yield
        return
    _flush()
    saved = os.dup(fd)
    read_end, write_end = os.pipe()
    os.dup2(write_end, fd)
    os.close(write_end)
    thread = threading.Thread(
        target=_pass_on, args=(read_end, saved), daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        _flush()
        os.dup2(saved, fd)  # closes the pipe's last write end: EOF
        thread.join(timeout=5)
        os.close(saved)


def _pass_on(read_end, out):
    """Copies the lines from `read_end` to `out`, but the noise."""
    pending = b""
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        while True:
            chunk = pipe.read(65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            _write(out, [line + b"\n" for line in lines])
    _write(out, [pending] if pending else [])


def _write(out, lines):
    kept = [
        line
        for line in lines
        if not is_noise(line.decode("utf-8", errors="replace"))
    ]
    if kept:
        with contextlib.suppress(OSError):
            os.write(out, b"".join(kept))


def _flush():
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()


def import_tensorflow():
    """Imports TensorFlow (and finds its devices, which is where the CUDA
    probe logs) inside `filtered`; returns the module."""
    already = "tensorflow" in sys.modules
    with filtered():
        import tensorflow as tf

        if not already:
            tf.config.list_physical_devices()
    return tf
