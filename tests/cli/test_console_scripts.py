"""The command lines: installed as console scripts, `--help` with defaults,
one `error:` line and exit status 2 on a user error."""

import importlib.metadata
import subprocess
import sys

import pytest

MODULES = {
    "kd-train": "kd_toolkit.cli.train",
    "kd-export": "kd_toolkit.cli.export",
    "kd-compress": "kd_toolkit.cli.compress",
    "kd-search": "kd_toolkit.cli.search",
}


def test_console_scripts_are_installed():
    scripts = {
        e.name: e.value
        for e in importlib.metadata.entry_points(group="console_scripts")
        if e.name.startswith("kd-")
    }
    assert scripts == {
        name: f"{module}:run" for name, module in MODULES.items()
    }


def _run(module, *args):
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_help_shows_every_default():
    runs = {m: _run(m, "--help") for m in MODULES.values()}
    outputs = {}
    for module, proc in runs.items():
        out, err = proc.communicate(timeout=120)
        # absl's --help exits with status 1 after printing the usage.
        assert proc.returncode in (0, 1) and "flags:" in out, err[-2000:]
        outputs[module] = out
    assert "--[no]resume" in outputs["kd_toolkit.cli.train"]
    assert "(default: 'kd')" in outputs["kd_toolkit.cli.train"]
    assert "(default: 'auto')" in outputs["kd_toolkit.cli.export"]
    assert (
        "(default: 'prune50,prune80,qat,ptq_int8')"
        in outputs["kd_toolkit.cli.compress"]
    )
    assert "(default: 'tflite_int8')" in outputs["kd_toolkit.cli.search"]


@pytest.mark.parametrize(
    "module, args, needle",
    [
        ("kd_toolkit.cli.train", ["--method=nope"], "Received: method='nope'"),
        ("kd_toolkit.cli.export", ["--model=missing.keras"], "--model"),
        ("kd_toolkit.cli.compress", ["--student=missing.keras"], "--student"),
        # Found by absl's parser, before `main`: still one line, status 2.
        ("kd_toolkit.cli.train", ["--cache_draws=-1"], "--cache_draws=-1"),
        ("kd_toolkit.cli.train", ["--epochs=0"], "--epochs=0"),
        ("kd_toolkit.cli.export", ["--out_dir=x"], "--model"),
    ],
)
def test_a_user_error_is_one_line(tmp_path, module, args, needle):
    result = subprocess.run(
        [sys.executable, "-m", module, *args, f"--out_dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [
        line for line in result.stderr.splitlines() if line.startswith("error:")
    ]
    assert len(errors) == 1 and needle in errors[0], result.stderr[-2000:]
