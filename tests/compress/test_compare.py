"""Tests of the float / pruned / QAT / post-training int8 comparison."""

import json
import subprocess
import sys

import keras
import pytest

from kd_toolkit.compress.compare import compress_and_compare
from kd_toolkit.compress.compare import gzipped_size
from kd_toolkit.compress.sparsity import sparsity_report
from kd_toolkit.export import LiteRTRunner
from tests.compress import helpers


def test_gzipped_size(tmp_path):
    path = tmp_path / "zeros.bin"
    path.write_bytes(bytes(10000))
    assert 0 < gzipped_size(path) < 100
    path.write_bytes(bytes(range(256)) * 4)
    assert gzipped_size(path) > 256


def test_existing_report_is_refused_before_any_training(tmp_path):
    (tmp_path / "compression_report.md").write_text("old")
    with pytest.raises(FileExistsError, match="overwrite=False"):
        compress_and_compare(helpers.tiny_cnn(), None, tmp_path, methods="qat")


def test_bad_methods_are_refused(tmp_path):
    with pytest.raises(ValueError, match="Unknown compression method"):
        compress_and_compare(
            helpers.tiny_cnn(), None, tmp_path, methods="prune50,distill"
        )


def _cli(*args):
    return subprocess.run(
        [sys.executable, "examples/compress_student.py", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
def test_command_line(fmnist_pair, tmp_path):
    teacher, student = fmnist_pair
    student.save(tmp_path / "student.keras")
    teacher.save(tmp_path / "teacher.keras")
    out = tmp_path / "out"
    run = _cli(
        f"--student={tmp_path / 'student.keras'}",
        f"--teacher={tmp_path / 'teacher.keras'}",
        "--methods=prune50,ptq_int8",
        "--epochs=1",
        "--batch_size=64",
        "--train_limit=1920",
        "--noaugment",
        "--learning_rate=1e-3",
        "--eval_limit=300",
        "--latency_runs=3",
        "--representative_samples=20",
        f"--out_dir={out}",
    )
    assert run.returncode in (0, 1), run.stderr[-3000:]
    assert "| prune50 | tflite_float32 |" in run.stdout
    assert "kd-compress --student=" in run.stdout
    saved = json.loads((out / "compression_report.json").read_text())
    assert run.returncode == (
        0 if all(r["passed"] for r in saved["rows"]) else 1
    )
    rows = {r["method"]: r for r in saved["rows"]}
    assert list(rows) == ["float", "prune50", "ptq_int8"]
    for row in rows.values():
        assert 60.0 < row["accuracy"] <= 100.0, row
        assert 0 < row["gzip_bytes"] < row["size_bytes"]
        assert row["latency_ms"] > 0
    assert rows["float"]["zero_fraction"] < 0.01
    assert abs(rows["prune50"]["zero_fraction"] - 0.5) <= 0.01
    assert rows["prune50"]["size_bytes"] == pytest.approx(
        rows["float"]["size_bytes"], rel=0.05
    )
    assert rows["prune50"]["gzip_bytes"] < 0.8 * rows["float"]["gzip_bytes"]
    # QAT through the command line: the same code path as ptq_int8 after
    # training (tests/compress/test_qat.py trains it on real data).
    assert rows["ptq_int8"]["artifact"] == "tflite_int8"
    assert rows["ptq_int8"]["size_bytes"] < 0.5 * rows["float"]["size_bytes"]
    assert LiteRTRunner(rows["ptq_int8"]["path"]).input_dtype == "int8"
    saved_model = keras.saving.load_model(
        out / "prune50" / "resnet8_prune50.keras"
    )
    assert sparsity_report(saved_model).zero_fraction == pytest.approx(
        rows["prune50"]["zero_fraction"]
    )
    # Only the targets of the methods run (QAT's appear with --methods=qat).
    assert set(saved["targets"]) == {"prune50_drop_vs_float"}
