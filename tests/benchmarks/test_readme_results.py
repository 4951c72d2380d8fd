"""README's protocol-v2 table is the one the committed run files give."""

import pathlib
import re

from benchmarks import accuracy_report

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_readme_v2_table_matches_the_run_files():
    readme = (ROOT / "README.md").read_text("utf-8")
    begin, end = accuracy_report.readme_markers("v2")
    block = readme.split(begin + "\n", 1)[1].split("\n" + end, 1)[0]
    command = re.search(r"^Command: `(.*)`$", block, re.MULTILINE).group(1)
    methods = re.search(r"--methods=(\S+)", command).group(1).split(",")
    runs = accuracy_report.load_runs(ROOT / "benchmarks/results/runs/v2")
    result = {
        "meta": {"tag": "v2", "command": command, "methods": methods},
        "summary": accuracy_report.summarize(runs),
    }
    assert runs, "no v2 run files"
    # Rebuild it with `python -m benchmarks.accuracy --aggregate_only
    # --readme=README.md` and the methods of its Command line.
    assert accuracy_report.to_markdown(result, readme=True) == block
