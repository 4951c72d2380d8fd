import pytest

from tests.examples.notebooks import run_short


@pytest.mark.slow
def test_runs_top_to_bottom(tmp_path, monkeypatch):
    run_short("ama_walkthrough", tmp_path, monkeypatch)
