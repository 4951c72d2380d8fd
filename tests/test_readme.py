"""README's quickstart runs as written, on fewer images and epochs."""

import os
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# What the test shortens: each must appear exactly once in the quickstart.
SHORTER = {
    'kd.data.load_numpy("fashion_mnist", "train")': (
        'kd.data.load_numpy("fashion_mnist", "train", limit=4096)'
    ),
    'kd.data.load_numpy("fashion_mnist", "test")': (
        'kd.data.load_numpy("fashion_mnist", "test", limit=1000)'
    ),
    # 2 epochs left the student at ~61% with unsettled batch-norm
    # statistics, and its int8 file missed the 1-point accuracy bound on
    # some runs (1.2 points); at 5 epochs it passes with room.
    "epochs=10)": "epochs=5)",
}


def quickstart():
    text = (ROOT / "README.md").read_text("utf-8")
    section = text.split("## Quickstart", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_the_quickstart_is_what_the_test_runs():
    code = quickstart()
    for old in SHORTER:
        assert code.count(old) == 1, old


@pytest.mark.slow
def test_the_quickstart_distils_exports_and_verifies(tmp_path, capsys):
    code = quickstart()
    for old, new in SHORTER.items():
        code = code.replace(old, new)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(code, "README.md quickstart", "exec"), {})
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert "tflite_int8" in out and "onnx" in out
    artifacts = sorted(p.name for p in (tmp_path / "runs/export").iterdir())
    assert any(name.endswith("_tflite_int8.tflite") for name in artifacts)
    assert any(name.endswith("_onnx.onnx") for name in artifacts)
