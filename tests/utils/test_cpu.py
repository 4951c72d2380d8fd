"""Tests of the CPU flags and the XLA default measured for them."""

import pytest

import kd_toolkit as kd
from kd_toolkit.distiller.jit import auto_jit_compile
from kd_toolkit.utils import cpu


def test_xla_pays_off_on_avx2_without_avx512():
    assert cpu.xla_pays_off({"sse4_2", "avx", "avx2", "fma"})
    assert not cpu.xla_pays_off({"avx2", "fma", "avx512f", "avx512_vnni"})
    assert not cpu.xla_pays_off({"sse4_2"})
    assert not cpu.xla_pays_off(frozenset())  # not x86, or no /proc/cpuinfo


def test_the_environment_overrides_the_rule(monkeypatch):
    teacher, student = (
        kd.models.get("resnet8", input_shape=(8, 8, 1), num_classes=3)
        for _ in range(2)
    )
    distiller = kd.Distiller(teacher, student)
    monkeypatch.setenv(cpu.XLA_ENV, "1")
    assert cpu.xla_on_cpu() and auto_jit_compile(distiller)
    monkeypatch.setenv(cpu.XLA_ENV, "0")
    assert not cpu.xla_on_cpu() and not auto_jit_compile(distiller)
    monkeypatch.delenv(cpu.XLA_ENV)
    assert cpu.xla_on_cpu() is cpu.xla_pays_off(cpu.cpu_flags())
    monkeypatch.setenv(cpu.XLA_ENV, "yes")
    with pytest.raises(ValueError, match="Received: KD_TOOLKIT_CPU_XLA='yes'"):
        cpu.xla_on_cpu()


def test_flags_are_read_on_linux():
    flags = cpu.cpu_flags()
    assert isinstance(flags, frozenset)
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        pytest.skip("no /proc/cpuinfo on this machine")
    if "\nflags" in text or text.startswith("flags"):
        assert flags  # x86 Linux lists its flags
