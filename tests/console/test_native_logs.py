"""TensorFlow's native log lines are kept off stderr, everything else
passes, and the switches bring them back."""

import os
import re
import subprocess
import sys

import pytest

from kd_toolkit.console import native_logs

ONEDNN = (
    "I0000 00:00:1796299755.050319   23283 port.cc:153] oneDNN custom "
    "operations are on.\n"
)
CUINIT = (
    "E0000 00:00:1796299757.367491   23283 cuda_executor.cc:1228] failed "
    "call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: "
    "UNKNOWN ERROR (303)\n"
)
REAL_ERROR = "E0000 00:00:1796299757.367491   23283 foo.cc:12] disk full\n"
PREAMBLE = (
    "WARNING: All log messages before absl::InitializeLog() is called are "
    "written to STDERR\n"
)
NATIVE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d|absl::InitializeLog|oneDNN")


@pytest.fixture
def quiet(monkeypatch):
    monkeypatch.delenv(native_logs.ENV_VAR, raising=False)
    monkeypatch.setattr(sys, "argv", ["kd-train"])


def _emit():
    for line in (PREAMBLE, ONEDNN, CUINIT, REAL_ERROR):
        os.write(2, line.encode())
    os.write(2, b"UserWarning: a Python warning\n")
    os.write(2, b"no newline at the end")


def test_noise_is_the_native_info_warning_and_no_gpu_lines():
    assert native_logs.is_noise(ONEDNN)
    assert native_logs.is_noise(CUINIT)
    assert native_logs.is_noise(PREAMBLE)
    assert native_logs.is_noise("W0000 00:00:17.5   1 rendezvous.cc:4] x\n")
    assert not native_logs.is_noise(REAL_ERROR)
    assert not native_logs.is_noise("Epoch 1/6: loss 0.41\n")
    assert not native_logs.is_noise("I told you so\n")


def test_filtered_drops_the_noise_and_passes_the_rest(quiet, capfd):
    with native_logs.filtered():
        _emit()
    err = capfd.readouterr().err
    assert err == (
        REAL_ERROR + "UserWarning: a Python warning\nno newline at the end"
    )


def test_nested_filters_pass_lines_once(quiet, capfd):
    with native_logs.filtered(), native_logs.filtered():
        _emit()
    assert capfd.readouterr().err.count("a Python warning") == 1


@pytest.mark.parametrize(
    "env, argv",
    [("1", []), (None, ["--verbosity=1"]), (None, ["-v", "2"])],
)
def test_the_switches_bring_every_line_back(monkeypatch, capfd, env, argv):
    monkeypatch.delenv(native_logs.ENV_VAR, raising=False)
    if env:
        monkeypatch.setenv(native_logs.ENV_VAR, env)
    monkeypatch.setattr(sys, "argv", ["kd-train", *argv])
    assert native_logs.wanted()
    with native_logs.filtered():
        _emit()
    err = capfd.readouterr().err
    assert ONEDNN in err and CUINIT in err and PREAMBLE in err


@pytest.mark.parametrize(
    "argv", [[], ["--verbosity=0"], ["--verbosity=x"], ["-v"]]
)
def test_no_switch(quiet, monkeypatch, argv):
    monkeypatch.setattr(sys, "argv", ["kd-train", *argv])
    assert not native_logs.wanted()


def test_the_command_lines_print_no_native_log_line():
    env = {k: v for k, v in os.environ.items() if k != native_logs.ENV_VAR}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    modules = ("train", "export", "compress", "search")
    procs = {
        m: subprocess.Popen(
            [sys.executable, "-m", f"kd_toolkit.cli.{m}", "--help"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        for m in modules
    }
    for module, proc in procs.items():
        out, _ = proc.communicate(timeout=300)
        assert "--out_dir" in out, (module, out[-2000:])
        noisy = [line for line in out.splitlines() if NATIVE.search(line)]
        assert not noisy, (module, noisy[:3])
