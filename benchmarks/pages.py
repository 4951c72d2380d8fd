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


# Loss methods of docs/methods.md's cost tables, in the page's order.
METHOD_LABELS = {
    "dkd": "DKD",
    "fitnets": "FitNets",
    "at": "AT",
    "rkd": "RKD",
    "sp": "SP",
    "pkt": "PKT",
    "crd": "CRD",
    "review_kd": "ReviewKD",
    "ama_cached": "AMA (cached)",
}


def _methods_in(ratios, template):
    return [m for m in METHOD_LABELS if template.format(m) in ratios]


def method_cost_table(payload):
    """docs/methods.md's step cost of each loss against KD with the teacher
    run live, from a `benchmarks.throughput` result file."""
    ratios = payload["ratios"]
    names = _methods_in(ratios, "cost_{}_over_kd")
    lines = [
        "| method | " + " | ".join(METHOD_LABELS[m] for m in names) + " |",
        "|---|" + "---|" * len(names),
        "| step time / KD's | "
        + " | ".join(f"{ratios[f'cost_{m}_over_kd']:.2f}" for m in names)
        + " |",
    ]
    meta = payload["meta"]
    lines += ["", f"Command: `{meta['command']}` ({meta['date']})."]
    return "\n".join(lines)


def cached_cost_table(payload):
    """docs/methods.md's step cost of the losses that train from the cache,
    against KD with the teacher live and KD from the cache."""
    ratios = payload["ratios"]
    names = _methods_in(ratios, "cost_{}_over_kd_cached")
    lines = [
        "| method | step / KD's, teacher live | step / KD's, from the cache |",
        "|---|---|---|",
    ]
    for m in names:
        lines.append(
            f"| {METHOD_LABELS[m]} | {ratios[f'cost_{m}_over_kd']:.2f} | "
            f"{ratios[f'cost_{m}_over_kd_cached']:.2f} |"
        )
    lines.append(
        "| KD from the cache / the student alone | "
        f"{ratios['cost_kd_cached_over_student']:.2f} | |"
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
    (
        "docs/methods.md",
        "method_costs",
        "benchmarks/results/throughput_methods/throughput.json",
        method_cost_table,
    ),
    (
        "docs/methods.md",
        "cached_costs",
        "benchmarks/results/throughput_fold/throughput.json",
        cached_cost_table,
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
