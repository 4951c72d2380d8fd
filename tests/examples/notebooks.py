"""Running the notebooks of examples/ in a Jupyter kernel (nbclient)."""

import pathlib

import nbclient
import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))
# What each notebook must print: its last step's result.
EXPECTED_OUTPUT = {
    "ama_walkthrough": ("adapted teacher top-1:", "student top-1: AMA + KD"),
    "compression": ("zeros in the pruned weights:", "| QAT int8 |"),
    "quickstart": ("| tflite_int8 |",),
    "student_search": ("| candidate | params |", "Winner: **"),
}
# What each notebook must write into its working directory.
EXPECTED_FILES = {
    "ama_walkthrough": ("teacher.ama_walkthrough.logits.npz",),
    "compression": (
        "compression/qat/student_qat_int8.tflite",
        "compression/pruned50/export_report.md",
    ),
    "quickstart": ("student.keras", "export_artifacts/export_report.md"),
    "student_search": ("search/search.png", "search/winner/model_card.md"),
}


def text_outputs(notebook):
    """Everything the notebook's code cells printed (stream texts are
    strings once read by nbformat, lists of lines in the raw JSON)."""
    texts = (
        output.get("text", "")
        for cell in notebook["cells"]
        if cell["cell_type"] == "code"
        for output in cell["outputs"]
    )
    return "".join("".join(t) if isinstance(t, list) else t for t in texts)


def run_short(name, tmp_path, monkeypatch):
    """Runs `examples/<name>.ipynb` top to bottom in its short mode
    (`KD_TOOLKIT_QUICK=1`) in `tmp_path` and checks what it printed and
    wrote."""
    monkeypatch.setenv("KD_TOOLKIT_QUICK", "1")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    notebook = nbformat.read(ROOT / "examples" / f"{name}.ipynb", as_version=4)
    nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    text = text_outputs(notebook)
    for expected in EXPECTED_OUTPUT[name]:
        assert expected in text
    for path in EXPECTED_FILES[name]:
        assert (tmp_path / path).is_file(), path
