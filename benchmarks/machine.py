"""What a benchmark records about the machine it ran on."""

import os
import platform


def description():
    """The machine line of a benchmark's results: architecture and cores."""
    return f"{platform.machine()}, {os.cpu_count()} CPU cores"


def cpu_flags():
    """The SIMD flags that decide speed here (AVX2, AVX-512, bf16, AMX)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags_ = set(line.split(":", 1)[1].split())
                    break
            else:
                flags_ = set()
    except OSError:
        flags_ = set()
    wanted = (
        "avx2",
        "fma",
        "avx512f",
        "avx512_vnni",
        "avx512_bf16",
        "amx_bf16",
        "amx_int8",
    )
    return [f for f in wanted if f in flags_]
