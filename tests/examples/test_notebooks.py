"""Every notebook in examples/ runs top to bottom (its code cells, in
order, in a fresh interpreter), in its short mode."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))


def test_there_are_notebooks():
    assert [n.name for n in NOTEBOOKS] == ["quickstart.ipynb"]


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(notebook, tmp_path):
    cells = [c for c in json.loads(notebook.read_text())["cells"]
             if c["cell_type"] == "code"]
    script = tmp_path / f"{notebook.stem}.py"
    script.write_text("\n\n".join("".join(c["source"]) for c in cells))
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True,
        text=True, timeout=600,
        env=dict(os.environ, KD_TOOLKIT_QUICK="1",
                 PYTHONPATH=str(ROOT)))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| tflite_int8 |" in result.stdout
    assert (tmp_path / "student.keras").is_file()
    assert (tmp_path / "export_artifacts" / "export_report.md").is_file()
