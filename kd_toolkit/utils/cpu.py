"""The CPU's instruction-set flags, and the XLA default measured for them.

XLA's gain for training on a CPU depends on the CPU: on our 2-core
machines (`python -m benchmarks.throughput`, steps of resnet8 width 8
students and a resnet20 teacher, batch 128) it made every step slower
(0.74-0.87x) on one with AVX-512, and faster on those with AVX2 only:
the student step 1.30x and 1.43x, live KD 1.06x and 1.19x, KD from the
teacher-output cache 1.73x. TensorFlow's own kernels lean on AVX-512 where
it exists; XLA's CPU code does not catch up there.
"""

import functools
import os

__all__ = ["XLA_ENV", "cpu_flags", "xla_on_cpu", "xla_pays_off"]

# "1" or "0" overrides the measured default on CPU-only machines.
XLA_ENV = "KD_TOOLKIT_CPU_XLA"


@functools.cache
def cpu_flags():
    """The CPU's flags from `/proc/cpuinfo` (empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def xla_pays_off(flags):
    """Whether XLA made training steps faster on CPUs with these flags:
    x86 with AVX2 and without AVX-512 (see the module docstring)."""
    return "avx2" in flags and "avx512f" not in flags


def xla_on_cpu():
    """XLA on or off for training on this machine's CPU.

    The measured rule (`xla_pays_off`), unless the environment variable
    `KD_TOOLKIT_CPU_XLA` is `"1"` (on) or `"0"` (off).

    Raises:
        ValueError: if `KD_TOOLKIT_CPU_XLA` is set to another value.
    """
    value = os.environ.get(XLA_ENV, "")
    if value not in ("", "0", "1"):
        raise ValueError(
            f"`{XLA_ENV}` must be '0', '1' or unset. Received: "
            f"{XLA_ENV}={value!r}"
        )
    if value:
        return value == "1"
    return xla_pays_off(cpu_flags())
