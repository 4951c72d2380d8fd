"""Every notebook in examples/ runs top to bottom in a Jupyter kernel
(nbclient), in its short mode (`KD_TOOLKIT_QUICK=1`), and is committed
with the outputs of a run at its full settings."""

import json
import pathlib

import nbclient
import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))
# What each notebook must print: its last step's result.
EXPECTED_OUTPUT = {
    "ama_walkthrough": ("adapted teacher top-1:", "student top-1: AMA + KD"),
    "compression": ("zeros in the pruned weights:", "| QAT int8 |"),
    "quickstart": ("| tflite_int8 |",),
}
# What each notebook must write into its working directory.
EXPECTED_FILES = {
    "ama_walkthrough": ("teacher.ama_walkthrough.logits.npz",),
    "compression": ("compression/qat/student_qat_int8.tflite",
                    "compression/pruned50/export_report.md"),
    "quickstart": ("student.keras", "export_artifacts/export_report.md"),
}


def _text(notebook):
    return "".join(output.get("text", "")
                   for cell in notebook["cells"] if cell["cell_type"] == "code"
                   for output in cell["outputs"])


def test_there_are_notebooks():
    assert [n.stem for n in NOTEBOOKS] == sorted(EXPECTED_OUTPUT)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_with_the_outputs_of_a_full_run(path):
    notebook = json.loads(path.read_text("utf-8"))
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] for c in code), "a cell never ran"
    assert not [o for c in code for o in c["outputs"]
                if o["output_type"] == "error"]
    text = _text(notebook)
    for expected in EXPECTED_OUTPUT[path.stem]:
        assert expected in text
    # The short mode trains one epoch; the committed runs train more.
    assert "Epoch 1/1\n" not in text


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_top_to_bottom(path, tmp_path, monkeypatch):
    monkeypatch.setenv("KD_TOOLKIT_QUICK", "1")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    notebook = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = _text(notebook)
    for expected in EXPECTED_OUTPUT[path.stem]:
        assert expected in text
    for name in EXPECTED_FILES[path.stem]:
        assert (tmp_path / name).is_file(), name
