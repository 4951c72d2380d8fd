"""What a benchmark records about the machine it ran on."""

import os
import platform

from kd_toolkit.utils import cpu


def description():
    """The machine line of a benchmark's results: architecture and cores."""
    return f"{platform.machine()}, {os.cpu_count()} CPU cores"


def cpu_flags():
    """The SIMD flags that decide speed here (AVX2, AVX-512, bf16, AMX)."""
    wanted = (
        "avx2",
        "fma",
        "avx512f",
        "avx512_vnni",
        "avx512_bf16",
        "amx_bf16",
        "amx_int8",
    )
    return [f for f in wanted if f in cpu.cpu_flags()]
