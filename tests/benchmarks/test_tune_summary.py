"""The validation search table, from hand-made run files."""

import json

import pytest

from benchmarks import tune_summary


def _run(folder, method, seed, accuracy, **settings):
    folder.mkdir(parents=True, exist_ok=True)
    row = {
        "method": method,
        "seed": seed,
        "test_accuracy": accuracy,
        "settings": {"temperature": 1.0, "kd_weight": 0.5, **settings},
    }
    (folder / f"{method}-seed{seed}.json").write_text(json.dumps(row))


def test_each_method_shows_its_own_temperature_and_paired_delta(tmp_path):
    _run(tmp_path / "tune_alone", "alone", 0, 0.80)
    _run(tmp_path / "tune_alone", "alone", 1, 0.82)
    _run(tmp_path / "tune_ls_t1", "kd_ls", 0, 0.81, ls_temperature=1.0)
    _run(tmp_path / "tune_ls_t1", "kd_ls", 1, 0.84, ls_temperature=1.0)
    _run(tmp_path / "tune_ls_old", "kd_ls", 0, 0.79)  # before the setting
    _run(tmp_path / "tune_dkd", "dkd", 0, 0.83, dkd_temperature=4.0)
    rows, markdown = tune_summary.search_table(
        str(tmp_path), "tune_", "tune_alone"
    )
    by_setting = {r["setting"]: r for r in rows}
    assert by_setting["ls_t1"]["temperature"] == 1.0
    assert by_setting["ls_old"]["temperature"] == 2.0
    assert by_setting["dkd"]["temperature"] == 4.0
    # Paired by seed: +1 and +2 points, mean +1.5.
    delta = by_setting["ls_t1"]["vs_baseline"]
    assert delta["mean"] == pytest.approx(0.015)
    assert delta["n"] == 2
    assert [r["setting"] for r in rows] == ["dkd", "ls_t1", "ls_old"]
    assert "| ls_t1 | kd_ls | 1.0 | 0.5 | 2 | 82.50 | +1.50 [" in markdown
