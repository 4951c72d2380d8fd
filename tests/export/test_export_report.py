import json

import numpy as np
import pytest

from kd_toolkit.export import ExportReport
from kd_toolkit.export import LatencyStats
from kd_toolkit.export import export_tflite
from kd_toolkit.export import verify_artifact
from kd_toolkit.export.verification import failed_report


def _report(model, data, tmp_path):
    x, y = data
    path = export_tflite(model, tmp_path / "m.tflite")
    reference = np.asarray(model(x, training=False))
    good = verify_artifact(
        "tflite_float32",
        path,
        reference,
        x,
        y,
        latency_runs=3,
        latency_warmup=0,
    )
    bad = failed_report("onnx", RuntimeError("converter crashed"))
    return ExportReport(
        model_name="tiny",
        dataset=None,
        num_eval_samples=len(x),
        keras_accuracy=good.parity.reference_accuracy,
        keras_latency=LatencyStats(1.0, 2.0, 3),
        num_threads=1,
        artifacts=(good, bad),
    )


def test_markdown_and_json(tiny_model, tiny_data, tmp_path):
    report = _report(tiny_model, tiny_data, tmp_path)
    assert not report.passed and report.failed == ("onnx",)
    markdown = report.to_markdown()
    rows = [
        line
        for line in markdown.splitlines()
        if line.startswith("| tflite_float32") or line.startswith("| onnx")
    ]
    assert len(rows) == 2
    assert rows[0].endswith("| PASS |")
    assert "FAIL: error: RuntimeError" in rows[1]
    assert "- onnx: RuntimeError: converter crashed" in markdown
    assert "overall: FAIL" in markdown
    record = json.loads(report.to_json())
    assert record["passed"] is False
    first = record["artifacts"][0]
    assert first["format"] == "tflite_float32" and first["passed"] is True
    assert first["parity"]["top1_agreement"] == 1.0
    assert record["keras_latency"] == {
        "median_ms": 1.0,
        "p90_ms": 2.0,
        "runs": 3,
    }


def test_save_is_atomic_and_refuses_overwrite(tiny_model, tiny_data, tmp_path):
    report = _report(tiny_model, tiny_data, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    md_path, json_path = report.save(out)
    assert json.loads(json_path.read_text())["model_name"] == "tiny"
    assert md_path.read_text() == report.to_markdown()
    with pytest.raises(FileExistsError, match="export_report"):
        report.save(out)
    report.save(out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == [
        "export_report.json",
        "export_report.md",
    ]
