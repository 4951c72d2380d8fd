import json
import math
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
METHODS = ("alone", "kd", "fitnets_kd", "at_kd", "keras_kd", "ama_kd")


@pytest.mark.slow
def test_quick_mode_writes_every_method_with_finite_numbers(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "accuracy.py"), "--quick",
         f"--out_dir={tmp_path / 'out'}", f"--cache_dir={tmp_path / 'cache'}"],
        capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "out"
    with open(out / "accuracy_quick.json") as f:
        report = json.load(f)
    assert set(report["methods"]) == set(METHODS)
    for method in METHODS:
        (row,) = report["methods"][method]
        for key in ("test_accuracy", "train_ce", "test_ce",
                    "final_objective", "seconds_per_epoch"):
            assert math.isfinite(row[key]), (method, key)
        assert 0.0 <= row["test_accuracy"] <= 1.0
        assert len(row["accuracy_per_epoch"]) == 1
    assert 0.0 <= report["methods"]["ama_kd"][0][
        "adapted_teacher_accuracy"] <= 1.0
    table = (out / "accuracy_quick.md").read_text()
    for label in ("student alone", "Hinton KD", "FitNets + KD", "AT + KD",
                  "keras.distillation", "AMA + KD"):
        assert f"| {label}" in table
    assert (out / "accuracy_quick.png").stat().st_size > 1000
