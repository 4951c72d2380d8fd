"""The tables the docs pages quote from result files, generated between
`<!-- results:<tag> -->` lines so that a page cannot drift from its file
(the accuracy tables are `accuracy_report`'s; this module holds the rest).

Rewrite every page from the committed result files:

```
python -m benchmarks.pages
```

`tests/benchmarks/test_results_pages.py` fails when a page and its file
disagree.
"""

import json
import pathlib

from benchmarks import accuracy_report
from kd_toolkit.utils.atomic_io import atomic_write_texts

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Rows of the throughput table: (key in seconds_per_step, label, bold).
THROUGHPUT_ROWS = (
    ("student", "student alone", False),
    ("teacher_inference", "teacher inference", False),
    ("kd_cached", "KD from the teacher-output cache (kd_toolkit)", True),
    ("kd", "KD, teacher run every step (kd_toolkit)", False),
    ("keras_fair", "`keras.distillation.Distiller`, fair configuration", False),
    (
        "keras_default",
        "`keras.distillation.Distiller`, default loss string",
        False,
    ),
    ("ama", "KD + AMA (stage-3 blocks 2–3 replaced)", False),
)
XLA_RATIOS = (
    "speedup_xla_student",
    "speedup_xla_teacher_inference",
    "speedup_xla_kd",
    "speedup_xla_keras_fair",
)


def throughput_table(payload):
    """docs/speed.md's step table from `benchmarks/results/throughput.json`."""
    steps = payload["seconds_per_step"]
    base = steps["student"]
    lines = ["| step | ms/step | vs student alone |", "|---|---|---|"]
    for key, label, bold in THROUGHPUT_ROWS:
        cells = [label, f"{1000 * steps[key]:.1f}", f"{steps[key] / base:.2f}"]
        if bold:
            cells = [f"**{c}**" for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    xla = [payload["ratios"][k] for k in XLA_RATIOS]
    lines.append(
        f"| with XLA (`jit_compile=True`) | {min(xla):.2f}–{max(xla):.2f}× "
        "as fast | |"
    )
    meta = payload["meta"]
    lines += ["", f"Command: `{meta['command']}` ({meta['date']})."]
    return "\n".join(lines)


# (page, tag, result file, table builder)
TABLES = (
    (
        "docs/speed.md",
        "throughput",
        "benchmarks/results/throughput.json",
        throughput_table,
    ),
)


def expected(tag):
    """The block of `tag` built from its committed result file."""
    for _, t, source, build in TABLES:
        if t == tag:
            return build(json.loads((ROOT / source).read_text("utf-8")))
    raise KeyError(tag)


def main():
    for page, tag, _, _ in TABLES:
        text = accuracy_report.page_with(ROOT / page, tag, expected(tag))
        atomic_write_texts({str(ROOT / page): text}, overwrite=True)
        print(f"wrote {page} ({tag})")


if __name__ == "__main__":
    main()
