"""The accuracy benchmark: resumable runs, aggregation and paired CIs."""

import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import accuracy_report
from benchmarks import labels

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _row(method, seed, accuracy, curve=None, seconds=None):
    curve = curve or [accuracy]
    return {
        "method": method,
        "seed": seed,
        "test_accuracy": accuracy,
        "test_ce": 1.0 - accuracy,
        "train_ce": 0.5,
        "accuracy_per_epoch": curve,
        "seconds_per_epoch": seconds or [10.0] * len(curve),
    }


def _write(run_dir, rows):
    run_dir.mkdir(parents=True, exist_ok=True)
    for row in rows:
        (run_dir / f"{row['method']}-seed{row['seed']}.json").write_text(
            json.dumps(row)
        )


def test_paired_confidence_intervals_on_hand_made_runs(tmp_path):
    alone = [0.80, 0.81, 0.82, 0.83, 0.84]
    gain = [0.01, 0.02, 0.01, 0.02, 0.01]
    noise = [0.01, -0.01, 0.01, -0.01, 0.0]
    rows = [_row("alone", s, a) for s, a in enumerate(alone)]
    rows += [_row("kd", s, a + g) for s, (a, g) in enumerate(zip(alone, gain))]
    rows += [_row("at", s, a + n) for s, (a, n) in enumerate(zip(alone, noise))]
    _write(tmp_path, rows)
    summary = accuracy_report.summarize(accuracy_report.load_runs(tmp_path))
    kd = summary["methods"]["kd"]["vs_alone"]
    # By hand: mean 0.014; sample std of the gains sqrt(0.00012 / 4);
    # t(0.975, 4 d.o.f.) = 2.7764 from the table.
    half = 2.7764 * math.sqrt(0.00012 / 4) / math.sqrt(5)
    assert kd["n"] == 5
    assert kd["mean"] == pytest.approx(0.014)
    assert kd["low"] == pytest.approx(0.014 - half, abs=1e-6)
    assert kd["high"] == pytest.approx(0.014 + half, abs=1e-6)
    assert kd["significant"]
    at = summary["methods"]["at"]
    assert at["vs_alone"]["mean"] == pytest.approx(0.0)
    assert not at["vs_alone"]["significant"]
    # vs KD: noise − gain = [0, −.03, 0, −.03, −.01], mean −0.014, squared
    # deviations summing to 0.00092: the CI is wider than the mean.
    half = 2.7764 * math.sqrt(0.00092 / 4) / math.sqrt(5)
    assert at["vs_kd"]["mean"] == pytest.approx(-0.014)
    assert at["vs_kd"]["high"] == pytest.approx(-0.014 + half, abs=1e-6)
    assert at["vs_kd"]["high"] > 0 and not at["vs_kd"]["significant"]
    assert summary["target_accuracy"] == pytest.approx(0.82)


def test_pairs_only_the_seeds_both_methods_have(tmp_path):
    _write(
        tmp_path,
        [_row("alone", 0, 0.8), _row("alone", 1, 0.9), _row("kd", 1, 0.95)],
    )
    ci = accuracy_report.summarize(accuracy_report.load_runs(tmp_path))[
        "methods"
    ]["kd"]["vs_alone"]
    assert ci["n"] == 1 and ci["mean"] == pytest.approx(0.05)
    assert ci["low"] is None and not ci["significant"]


def test_convergence_counts_epochs_and_seconds(tmp_path):
    _write(
        tmp_path,
        [
            _row("alone", 0, 0.80, curve=[0.5, 0.7, 0.8]),
            _row("alone", 1, 0.80, curve=[0.6, 0.75, 0.8]),
            _row("kd", 0, 0.85, curve=[0.7, 0.81, 0.85], seconds=[4, 5, 6]),
            _row("kd", 1, 0.85, curve=[0.6, 0.7, 0.79]),
        ],
    )
    methods = accuracy_report.summarize(accuracy_report.load_runs(tmp_path))[
        "methods"
    ]
    alone, kd = methods["alone"]["convergence"], methods["kd"]["convergence"]
    assert (alone["epochs"], alone["seconds"]) == (3, 30.0)
    # Seed 0 reaches 0.80 at epoch 2 after 4 + 5 s; seed 1 never does.
    assert (kd["reached"], kd["n"], kd["epochs"], kd["seconds"]) == (
        1,
        2,
        2,
        9.0,
    )
    assert kd["epochs_ratio_vs_alone"] == pytest.approx(2 / 3)


def test_paired_difference_per_epoch(tmp_path):
    _write(
        tmp_path,
        [
            _row("alone", 0, 0.80, curve=[0.5, 0.7, 0.8]),
            _row("alone", 1, 0.80, curve=[0.6, 0.75, 0.8]),
            _row("kd", 0, 0.85, curve=[0.7, 0.81, 0.85]),
            _row("kd", 1, 0.79, curve=[0.6, 0.7, 0.79]),
            # A shorter curve: only its epochs are compared.
            _row("at", 0, 0.9, curve=[0.4, 0.9]),
        ],
    )
    methods = accuracy_report.summarize(accuracy_report.load_runs(tmp_path))[
        "methods"
    ]
    kd = methods["kd"]["vs_alone_per_epoch"]
    # Per-seed differences: epoch 1 +0.20 and 0; epoch 2 +0.11 and −0.05;
    # epoch 3 +0.05 and −0.01.
    assert [d["n"] for d in kd] == [2, 2, 2]
    assert [d["mean"] for d in kd] == pytest.approx([0.1, 0.03, 0.02])
    assert kd[0]["low"] < 0 < kd[0]["high"]
    at = methods["at"]["vs_alone_per_epoch"]
    assert [d["mean"] for d in at] == pytest.approx([-0.1, 0.2])
    assert at[0]["n"] == 1 and at[0]["low"] is None
    assert "vs_alone_per_epoch" not in methods["alone"]
    # Both panels draw, with and without intervals.
    png = tmp_path / "accuracy.png"
    accuracy_report.plot(
        {"meta": {"teacher_accuracy": 0.9}, "summary": {"methods": methods}},
        png,
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_runs_are_marked(tmp_path):
    _write(tmp_path, [_row("alone", 0, 0.8), _row("kd", 0, 0.81)])
    result = {
        "meta": {
            "description": "d",
            "command": "c",
            "methods": ["alone", "kd", "ama"],
        },
        "summary": accuracy_report.summarize(
            accuracy_report.load_runs(tmp_path)
        ),
    }
    table = accuracy_report.to_markdown(result)
    assert "| student alone | 1 (of 5: runs missing) |" in table
    assert "No finished runs yet: AMA + KD" in table
    # A protocol that plans three seeds counts the missing ones from three.
    result["meta"]["seeds"] = [0, 1, 2]
    table = accuracy_report.to_markdown(result)
    assert "| student alone | 1 (of 3: runs missing) |" in table


def _result(tmp_path, tag="v2"):
    _write(
        tmp_path,
        [
            _row("alone", 0, 0.80),
            _row("alone", 1, 0.82),
            _row("kd", 0, 0.81),
            _row("kd", 1, 0.84),
        ],
    )
    return {
        "meta": {"description": "d", "command": "c", "tag": tag},
        "summary": accuracy_report.summarize(
            accuracy_report.load_runs(tmp_path)
        ),
    }


def test_readme_block_is_replaced_and_nothing_else(tmp_path):
    result = _result(tmp_path / "runs")
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Title\n\n<!-- results:v2 -->\nold table\n<!-- /results:v2 -->\n"
        "\nprose\n<!-- results:v1 -->\nv1 table\n<!-- /results:v1 -->\n"
    )
    accuracy_report.update_page(readme, result)
    text = readme.read_text()
    before, rest = text.split("<!-- results:v2 -->\n")
    block, after = rest.split("<!-- /results:v2 -->\n")
    assert before == "# Title\n\n"
    assert (
        after
        == "\nprose\n<!-- results:v1 -->\nv1 table\n<!-- /results:v1 -->\n"
    )
    assert "old table" not in block
    # KD gains +1 and +2 points on the two seeds: mean +1.50, and the
    # readme table leaves out the description and the seconds per epoch.
    assert block.startswith("| method | seeds |")
    assert "| Hinton KD (kd_toolkit, teacher-output cache) | 2 (of 5" in block
    assert "| 82.50 ± 2.12 | +1.50 [" in block
    assert "s/epoch" not in block and "\nd\n" not in block
    # Writing again gives the same file.
    accuracy_report.update_page(readme, result)
    assert readme.read_text() == text


@pytest.mark.parametrize(
    "text, found",
    [
        ("no markers\n", "Received: 0 and 0 such lines in page="),
        (
            "<!-- /results:v2 -->\n<!-- results:v2 -->\n",
            "Received: the two lines in the wrong order",
        ),
        (
            "<!-- results:v2 -->\n<!-- results:v2 -->\n<!-- /results:v2 -->\n",
            "Received: 2 and 1 such lines in page=",
        ),
    ],
)
def test_page_without_one_block_is_refused_untouched(tmp_path, text, found):
    result = _result(tmp_path / "runs")
    readme = tmp_path / "README.md"
    readme.write_text(text)
    with pytest.raises(ValueError, match=found) as err:
        accuracy_report.update_page(readme, result)
    assert "<!-- results:v2 -->" in str(err.value)
    assert f"page={str(readme)!r}" in str(err.value)
    assert readme.read_text() == text


def _quick(tmp_path, *extra):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.accuracy",
            "--quick",
            f"--runs_dir={tmp_path / 'runs'}",
            f"--out_dir={tmp_path / 'out'}",
            f"--cache_dir={tmp_path / 'cache'}",
            f"--backup_dir={tmp_path / 'backups'}",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


@pytest.mark.slow
def test_quick_mode_runs_skips_finished_runs_and_aggregates(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("<!-- results:quick -->\n<!-- /results:quick -->\n")
    first = _quick(tmp_path, f"--pages={readme}")
    assert first.returncode == 0, first.stderr[-3000:]
    # The quick run plans one seed: none is missing.
    assert "| student alone | 1 |" in readme.read_text()
    runs = sorted((tmp_path / "runs" / "quick").glob("*.json"))
    assert [p.name for p in runs] == ["alone-seed0.json", "kd-seed0.json"]
    for path in runs:
        row = json.loads(path.read_text())
        assert 0.0 <= row["test_accuracy"] <= 1.0
        assert math.isfinite(row["test_ce"])
        assert len(row["accuracy_per_epoch"]) == 1
        assert row["resumed_at_epoch"] == []
    # A finished run leaves no backup behind.
    assert not list((tmp_path / "backups" / "quick").iterdir())
    assert json.loads(runs[1].read_text())["uses_cached_teacher_logits"]
    table = (tmp_path / "out" / "accuracy_quick.md").read_text()
    assert "| student alone | 1 |" in table
    assert "| Hinton KD (kd_toolkit, teacher-output cache) |" in table
    assert (tmp_path / "out" / "accuracy_quick.png").stat().st_size > 1000
    mtimes = [p.stat().st_mtime_ns for p in runs]
    second = _quick(tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.count("skip ") == 2
    assert "teacher-output cache hit" in second.stdout
    assert [p.stat().st_mtime_ns for p in runs] == mtimes


def test_gap_recovered_is_the_paired_difference_over_the_teachers_lead(
    tmp_path,
):
    alone = [0.60, 0.62, 0.64]
    rows = [_row("alone", s, a) for s, a in enumerate(alone)]
    rows += [
        _row("kd", s, a + g)
        for s, (a, g) in enumerate(zip(alone, [0.10, 0.12, 0.14]))
    ]
    _write(tmp_path, rows)
    runs = accuracy_report.load_runs(tmp_path)
    summary = accuracy_report.summarize(runs, teacher_accuracy=0.86)
    kd = summary["methods"]["kd"]
    # The teacher leads the alone's mean (0.62) by 0.24; KD gains 0.12.
    assert kd["gap_recovered"]["mean"] == pytest.approx(0.5)
    assert kd["gap_recovered"]["low"] == pytest.approx(
        kd["vs_alone"]["low"] / 0.24
    )
    table = accuracy_report.to_markdown(
        {"meta": {"description": "d", "command": "c"}, "summary": summary}
    )
    assert "| gap recovered, 95% CI |" in table
    assert "| +12.00 [" in table and "| 50% [" in table
    # Without the teacher's accuracy (protocol v2) the column is absent.
    plain = accuracy_report.to_markdown(
        {
            "meta": {"description": "d", "command": "c"},
            "summary": accuracy_report.summarize(runs),
        }
    )
    assert "gap recovered" not in plain


def test_the_labeled_subset_is_balanced_fixed_and_checked():
    y = np.repeat(np.arange(10), 30)
    ids = labels.labeled_subset(y, 50, 10)
    assert np.bincount(y[ids]).tolist() == [5] * 10
    assert np.array_equal(ids, labels.labeled_subset(y, 50, 10))
    assert np.all(np.diff(ids) > 0)
    for bad in (55, 310):
        with pytest.raises(ValueError, match=f"labeled={bad}"):
            labels.labeled_subset(y, bad, 10)


@pytest.mark.slow
def test_few_labels_train_the_alone_on_the_labeled_images_only(tmp_path):
    done = _quick(tmp_path, "--labeled=100", "--alone_steps=2", "--report_gap")
    assert done.returncode == 0, done.stderr[-3000:]
    runs = tmp_path / "runs" / "quick"
    alone = json.loads((runs / "alone-seed0.json").read_text())
    kd = json.loads((runs / "kd-seed0.json").read_text())
    assert alone["labeled"] == kd["labeled"] == 100
    # The alone repeats its 100 images for 2 steps an epoch; KD passes
    # once over all 512 (4 batches of 128), 412 of them unlabeled.
    assert alone["settings"]["steps_per_epoch"] == 2
    assert kd["settings"]["steps_per_epoch"] == 4
    assert "teacher-output cache: draw 1/2 (100 views)" in done.stdout
    table = (tmp_path / "out" / "accuracy_quick.md").read_text()
    assert "of which only 100 keep their label" in table
    assert "| gap recovered, 95% CI |" in table
