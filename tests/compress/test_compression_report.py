"""Tests of the compression report."""

import json

import pytest

from kd_toolkit.compress.compression_report import CompressionReport
from kd_toolkit.compress.compression_report import CompressionRow


def _row(method, accuracy, passed=True, notes=""):
    return CompressionRow(
        method=method,
        artifact="tflite_int8",
        accuracy=accuracy,
        size_bytes=2048,
        gzip_bytes=1024,
        zero_fraction=0.5,
        latency_ms=0.25,
        path=f"/out/{method}.tflite",
        passed=passed,
        notes=notes,
    )


def _report(qat=90.0, ptq=89.9, prune50=88.9):
    rows = (
        _row("float", 90.2),
        _row("prune50", prune50),
        _row("qat", qat),
        _row("ptq_int8", ptq, False, "size_ratio"),
    )
    return CompressionReport(
        "student",
        "fashion_mnist",
        1000,
        {"epochs": 2},
        rows,
        command="python x.py",
    )


def test_targets_met_and_missed():
    targets = _report().targets
    assert targets["qat_drop_vs_float"]["value"] == pytest.approx(0.2)
    assert targets["qat_drop_vs_float"]["met"]
    assert targets["qat_minus_ptq_int8"]["met"]
    assert not targets["prune50_drop_vs_float"]["met"]  # 1.3 pt drop
    assert not _report(qat=89.8).targets["qat_drop_vs_float"]["met"]
    assert not _report(qat=89.95, ptq=90.0).targets["qat_minus_ptq_int8"]["met"]


def test_targets_skip_missing_rows():
    report = CompressionReport("s", "d", 10, {}, (_row("float", 90.0),))
    assert report.targets == {}


def test_markdown_and_json():
    report = _report()
    text = report.to_markdown()
    assert (
        "| prune50 | tflite_int8 | 88.90 | -1.30 | 2.0 | 1.0 | 50.0% |" in text
    )
    assert "FAIL: size_ratio" in text
    assert "| prune50_drop_vs_float | +1.30 | 1.0 | no |" in text
    assert "python x.py" in text
    record = json.loads(report.to_json())
    assert [r["method"] for r in record["rows"]] == [
        "float",
        "prune50",
        "qat",
        "ptq_int8",
    ]
    assert record["targets"]["qat_minus_ptq_int8"]["met"] is True


def test_save_is_atomic_and_refuses_to_overwrite(tmp_path):
    md, js = _report().save(tmp_path)
    assert md.read_text().startswith("# Compression of `student`")
    assert json.loads(js.read_text())["num_eval_samples"] == 1000
    with pytest.raises(FileExistsError, match="overwrite=False"):
        _report().save(tmp_path)
    _report(qat=80.0).save(tmp_path, overwrite=True)
    assert json.loads(js.read_text())["rows"][2]["accuracy"] == 80.0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "compression_report.json",
        "compression_report.md",
    ]
