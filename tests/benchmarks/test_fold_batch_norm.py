"""The batch-norm folding benchmark: its rows, ratios and files."""

import json

import keras
import pytest

import kd_toolkit as kd
from benchmarks import fold_batch_norm as bench
from benchmarks import timing


def test_rows_run_and_summaries_hold_known_ratios():
    models = {
        "tiny": kd.models.get(
            "mobilenet_tiny", input_shape=(16, 16, 1), num_classes=10
        )
    }
    rows, pairs = bench.build_rows(models, batch_size=2)
    assert set(rows) == {"tiny", "tiny_unfolded"}
    assert pairs["tiny"] > 0
    times = timing.interleaved(rows, rounds=2, n=1)
    assert all(len(v) == 2 and min(v) > 0 for v in times.values())
    made_up = {"tiny": [0.010, 0.010], "tiny_unfolded": [0.012, 0.012]}
    result = bench.summarize(made_up, pairs)
    assert result["tiny"]["speedup"] == pytest.approx(1.2)
    assert result["tiny"]["ms_unfolded"] == pytest.approx(12.0)
    meta = {
        "batch_size": 2,
        "machine": "m",
        "cpu_flags": ["avx2"],
        "rounds": 2,
        "steps": 1,
        "command": "c",
    }
    assert "| tiny | " in bench.to_markdown(result, meta)
    assert "1.200×" in bench.to_markdown(result, meta)


def test_run_writes_both_files(tmp_path):
    models = {
        "tiny": kd.models.get(
            "mobilenet_tiny", input_shape=(16, 16, 1), num_classes=10
        )
    }
    bench.run(models, 2, rounds=2, steps=1, out_dir=tmp_path, command="c")
    data = json.loads((tmp_path / "fold_batch_norm.json").read_text())
    assert data["result"]["tiny"]["folded_pairs"] > 0
    assert data["meta"]["rounds"] == 2
    assert (
        (tmp_path / "fold_batch_norm.md")
        .read_text()
        .startswith("Teacher inference")
    )
    keras.backend.clear_session()
