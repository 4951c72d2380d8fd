"""Every accuracy table on README.md and docs/results.md is the one the
committed run files give."""

import json
import pathlib
import re

import pytest

from benchmarks import accuracy_report
from benchmarks import pages

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGES = ("README.md", "docs/results.md")
MARKER = re.compile(r"^<!-- results:(\S+) -->$", re.MULTILINE)


def _blocks():
    for page in PAGES:
        text = (ROOT / page).read_text("utf-8")
        for tag in MARKER.findall(text):
            yield page, tag, text


def test_the_pages_quote_the_protocols():
    tags = {(page, tag) for page, tag, _ in _blocks()}
    assert ("README.md", "v3_n1000") in tags
    for tag in ("v2", "v3_n1000", "v3_n6000", "v3_gap"):
        assert ("docs/results.md", tag) in tags


@pytest.mark.parametrize(
    "page, tag, text", list(_blocks()), ids=lambda v: str(v)[:20]
)
def test_a_table_matches_the_run_files(page, tag, text):
    begin, end = accuracy_report.page_markers(tag)
    block = text.split(begin + "\n", 1)[1].split("\n" + end, 1)[0]
    command = re.search(r"^Command: `(.*)`$", block, re.MULTILINE).group(1)
    methods = re.search(r"--methods=(\S+)", command).group(1).split(",")
    seeds = re.search(r"--seeds=(\S+)", command)
    runs = accuracy_report.load_runs(ROOT / "benchmarks/results/runs" / tag)
    assert runs, f"no {tag} run files"
    saved = json.loads(
        (ROOT / f"benchmarks/results/accuracy_{tag}.json").read_text("utf-8")
    )["meta"]
    teacher = saved["teacher_accuracy"] if saved.get("report_gap") else None
    result = {
        "meta": {"tag": tag, "command": command, "methods": methods}
        | ({"seeds": seeds.group(1).split(",")} if seeds else {}),
        "summary": accuracy_report.summarize(runs, teacher_accuracy=teacher),
    }
    # Rebuild it with `python -m benchmarks.accuracy --aggregate_only
    # --pages=<page>` and the flags of its Command line.
    assert accuracy_report.to_markdown(result, compact=True) == block, page


@pytest.mark.parametrize("page, tag", [(p, t) for p, t, _, _ in pages.TABLES])
def test_a_generated_table_matches_its_result_file(page, tag):
    text = (ROOT / page).read_text("utf-8")
    begin, end = accuracy_report.page_markers(tag)
    block = text.split(begin + "\n", 1)[1].split("\n" + end, 1)[0]
    # Rebuild with `python -m benchmarks.pages`.
    assert block == pages.expected(tag), page
