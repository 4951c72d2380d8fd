import pytest

from tests.examples.notebooks import run_short


@pytest.mark.slow
def test_runs_top_to_bottom(tmp_path, monkeypatch):
    run_short("student_search", tmp_path, monkeypatch)
