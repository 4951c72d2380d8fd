"""The student search end to end on Fashion-MNIST images from the shipped
teacher: tiny candidates, one epoch each, real exports."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import kd_toolkit as kd
from kd_toolkit import recipes
from kd_toolkit.recipes import search_report

SMALL = "simple_cnn:filters=(4, 8)"
LARGER = "simple_cnn:filters=(8, 16)"


def _not_convertible(input_shape, num_classes):
    """A student with an op LiteRT has no builtin for (a determinant): its
    export fails verification."""
    i = keras.Input(input_shape)
    h = keras.layers.Flatten()(i)
    h = keras.layers.Dense(num_classes * 4)(h)
    det = keras.layers.Lambda(
        lambda z: tf.linalg.det(tf.reshape(z, (-1, num_classes, 2, 2)))
    )(h)
    return keras.Model(i, det, name="determinant")


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    x, y = kd.data.load_numpy("fashion_mnist", "train", limit=2048)
    teacher = kd.pretrained.load("fashion_mnist_resnet20")
    out = tmp_path_factory.mktemp("search")
    candidates = [
        recipes.Candidate.parse(SMALL),
        recipes.Candidate.parse(LARGER),
        recipes.Candidate("determinant", _not_convertible),
    ]

    def run(budget=None, **kwargs):
        return recipes.search_students(
            teacher,
            (x[:1536], y[:1536]),
            (x[1536:], y[1536:]),
            candidates,
            budget,
            epochs=2,
            batch_size=64,
            out_dir=out,
            class_names=list(kd.data.dataset_info("fashion_mnist").class_names),
            **kwargs,
        )

    first = run()
    # What the first (unbudgeted) search wrote, read now: the tests that
    # rerun it under budgets rewrite the report and the winner's folder,
    # in whatever order the tests run.
    with open(first.report_path) as f:
        written = {"report": f.read()}
    winner = out / "winner"
    written["artifact_bytes"] = (
        (winner / "student_tflite_int8.tflite").stat().st_size
    )
    written["card"] = (winner / "model_card.md").read_text()
    with open(first.plot_path, "rb") as f:
        written["plot_magic"] = f.read(8)
    return run, first, out, written


@pytest.mark.slow
def test_ranks_verified_candidates_and_never_a_failed_one(search):
    _, result, _, written = search
    by_name = {r["name"]: r for r in result.records}
    assert set(by_name) == {SMALL, LARGER, "determinant"}
    failed = by_name["determinant"]
    assert failed["passed"] is False
    assert any("MatrixDeterminant" in c for c in failed["failed_checks"])
    for name in (SMALL, LARGER):
        r = by_name[name]
        assert r["passed"], r["failed_checks"]
        assert r["latency_ms"] > 0 and r["flash_bytes"] > 0
        assert r["arena_bytes"] > 0 and r["edge_tpu_ready"] is not None
        assert 0 <= r["accuracy"] <= 100
    assert by_name[LARGER]["params"] > by_name[SMALL]["params"]
    # No budget: the most accurate verified candidate.
    best = max((by_name[SMALL], by_name[LARGER]), key=lambda r: r["accuracy"])
    assert result.winner["name"] == best["name"]
    assert written["artifact_bytes"] > 0
    assert "T-shirt/top" in written["card"]
    assert written["plot_magic"] == b"\x89PNG\r\n\x1a\n"
    text = written["report"]
    assert (
        "failed verification" in text and f"Winner: **{best['name']}**" in text
    )


@pytest.mark.slow
def test_a_rerun_skips_finished_candidates_and_honours_each_budget(
    search, capsys
):
    run, first, out, _ = search
    files = sorted(
        f for f in (out / "candidates").glob("*.json") if "+" not in f.name
    )
    assert len(files) == 3
    stamps = {f: f.stat().st_mtime_ns for f in files}
    by_name = {r["name"]: r for r in first.records}
    small = by_name[SMALL]

    flash = recipes.Budget(flash_bytes=small["flash_bytes"])
    result = run(flash)
    assert result.winner["name"] == SMALL
    assert "finished, skipped" in capsys.readouterr().out
    assert {f: f.stat().st_mtime_ns for f in files} == stamps
    assert [r["accuracy"] for r in result.records] == [
        r["accuracy"] for r in first.records
    ]
    with open(result.report_path) as f:
        text = f.read()
    assert f"The next larger candidate, {LARGER}" in text
    assert "misses the budget: flash" in text

    latency = recipes.Budget(latency_ms=min(small["latency_ms"], 1e-6))
    assert run(latency).winner is None
    arena = recipes.Budget(arena_bytes=small["arena_bytes"])
    winner = run(arena).winner
    assert winner is not None
    assert winner["arena_bytes"] <= small["arena_bytes"]


@pytest.mark.slow
def test_the_winner_refined_by_qat_and_pruning_joins_the_table(search, capsys):
    run, first, out, _ = search
    winner = first.winner
    result = run(refine="qat,prune50", refine_epochs=1)
    assert "finished, skipped" in capsys.readouterr().out
    by_name = {r["name"]: r for r in result.records}
    qat, pruned = (
        by_name[f"{winner['name']}+qat"],
        by_name[f"{winner['name']}+prune50"],
    )
    for r in (qat, pruned):
        assert r["refined_from"] == winner["name"]
        assert r["params"] == winner["params"]
        assert r["passed"], r["failed_checks"]
        assert r["latency_ms"] > 0 and r["arena_bytes"] > 0
        assert 0 <= r["accuracy"] <= 100
    # The QAT artifact is verified against the QAT model it came from.
    bound = kd.export.default_thresholds("tflite_int8").max_accuracy_drop
    assert qat["keras_accuracy"] - qat["accuracy"] <= bound
    assert pruned["zero_fraction"] > 0.3
    # Ranked with the candidates: the winner is the most accurate of all.
    passing = [r for r in result.records if r["passed"]]
    assert result.winner["accuracy"] == max(r["accuracy"] for r in passing)
    with open(result.report_path) as f:
        text = f.read()
    assert f"{winner['name']}+qat" in text and "+prune50" in text
    # Refinements are not candidates: none is the winner's "next larger".
    nxt = search_report.next_larger(result.records, winner)
    assert nxt is None or nxt.get("refined_from") is None
    # A rerun skips them too.
    files = sorted((out / "candidates").glob("*+*.json"))
    assert len(files) == 2
    stamps = [f.stat().st_mtime_ns for f in files]
    again = run(refine="qat,prune50", refine_epochs=1)
    assert [f.stat().st_mtime_ns for f in files] == stamps
    assert len(again.records) == 5


def test_methods_that_need_the_live_teacher_are_refused(tmp_path):
    teacher = kd.models.get("simple_cnn", input_shape=(8, 8, 1), num_classes=3)
    x = np.zeros((4, 8, 8, 1), np.float32)
    y = np.zeros(4, np.int64)
    with pytest.raises(ValueError, match="Received: method='fitnets'") as e:
        recipes.search_students(
            teacher, (x, y), (x, y), [SMALL], method="fitnets", out_dir=tmp_path
        )
    assert "'kd'" in str(e.value)
    with pytest.raises(ValueError, match="`val` must hold images"):
        recipes.search_students(
            teacher, (x, y), (x[:, :4], y), [SMALL], out_dir=tmp_path
        )


@pytest.mark.slow
def test_the_command_line_searches_and_exits_by_the_budget(tmp_path):
    args = [
        sys.executable,
        "-m",
        "kd_toolkit.cli.search",
        "--train_limit=2048",
        "--val_size=512",
        f"--candidate={SMALL}",
        "--epochs=1",
        "--batch_size=64",
        f"--out_dir={tmp_path}",
    ]
    fits = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert fits.returncode == 0, fits.stderr[-3000:]
    assert f"Winner: **{SMALL}**" in fits.stdout
    record = json.loads((tmp_path / "search.json").read_text())
    assert record["winner"] == SMALL
    too_tight = subprocess.run(
        [*args, "--latency_ms=1e-6"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert too_tight.returncode == 1, too_tight.stderr[-3000:]
    assert "finished, skipped" in too_tight.stdout
    assert "No candidate passed verification within the budget" in (
        too_tight.stdout
    )
