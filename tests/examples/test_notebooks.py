"""Every notebook in examples/ is committed with the outputs of a run at
its full settings, and runs top to bottom in its short mode (one test file
per notebook, so the suite's workers share them)."""

import json

import pytest

from tests.examples.notebooks import EXPECTED_OUTPUT
from tests.examples.notebooks import NOTEBOOKS
from tests.examples.notebooks import run_short
from tests.examples.notebooks import text_outputs


def test_there_are_notebooks():
    assert [n.stem for n in NOTEBOOKS] == sorted(EXPECTED_OUTPUT)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_with_the_outputs_of_a_full_run(path):
    notebook = json.loads(path.read_text("utf-8"))
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] for c in code), "a cell never ran"
    assert not [
        o for c in code for o in c["outputs"] if o["output_type"] == "error"
    ]
    text = text_outputs(notebook)
    for expected in EXPECTED_OUTPUT[path.stem]:
        assert expected in text
    # The short mode trains one epoch; the committed runs train more.
    assert "Epoch 1/1\n" not in text


@pytest.mark.slow
def test_quickstart_runs_top_to_bottom(tmp_path, monkeypatch):
    run_short("quickstart", tmp_path, monkeypatch)
