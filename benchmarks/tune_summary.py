"""Table of a validation search: every `runs/<prefix>*` folder against its
baseline folder, paired by seed.

```
python -m benchmarks.tune_summary --prefix=tune_kd_ --baseline=tune_kd_alone
```

writes `benchmarks/results/<prefix>search.md` (and `.json`).
"""

import json
import os
import pathlib
import statistics

from absl import app
from absl import flags

from benchmarks import accuracy_report
from kd_toolkit.utils.atomic_io import atomic_write_texts

FLAGS = flags.FLAGS


def define_flags():
    """The command line's flags; defined only when run as a script, since
    absl flags are global and other benchmarks share these names."""
    flags.DEFINE_string("runs_dir", "benchmarks/results/runs", "Run folders.")
    flags.DEFINE_string("prefix", "tune_kd_", "Folders of the search.")
    flags.DEFINE_string("baseline", "tune_kd_alone", "The baseline folder.")
    flags.DEFINE_string("out_dir", "benchmarks/results", "Output folder.")


def search_table(runs_dir, prefix, baseline):
    """`(rows, markdown)`: each setting's mean and paired Δ vs the baseline."""
    root = pathlib.Path(runs_dir)
    base_runs = accuracy_report.load_runs(root / baseline)
    base = {
        s: r["test_accuracy"]
        for rows in base_runs.values()
        for s, r in rows.items()
    }
    rows = []
    for folder in sorted(root.glob(prefix + "*")):
        if folder.name == baseline:
            continue
        for method, by_seed in accuracy_report.load_runs(folder).items():
            acc = {s: r["test_accuracy"] for s, r in by_seed.items()}
            settings = next(iter(by_seed.values())).get("settings", {})
            rows.append(
                {
                    "setting": folder.name.removeprefix(prefix),
                    "method": method,
                    "temperature": accuracy_report.temperature(
                        method, settings
                    ),
                    "kd_weight": settings.get("kd_weight"),
                    "seeds": sorted(acc),
                    "mean": statistics.fmean(acc.values()),
                    "vs_baseline": accuracy_report.paired_ci(acc, base),
                }
            )
    rows.sort(key=lambda r: -(r["vs_baseline"]["mean"] or -1.0))
    lines = [
        f"Validation search `{prefix}*` (held-out: the last 10k "
        "training images), paired by seed against "
        f"`{baseline}` (mean {100 * statistics.fmean(base.values()):.2f}"
        f"% over seeds {sorted(base)}).",
        "",
        "| setting | method | τ | α | seeds | held-out top-1 % | Δ vs "
        "baseline (points; 95% CI) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ci = r["vs_baseline"]
        delta = f"{100 * ci['mean']:+.2f}" if ci["mean"] is not None else "-"
        if ci["low"] is not None:
            delta += f" [{100 * ci['low']:+.2f}, {100 * ci['high']:+.2f}]"
        lines.append(
            f"| {r['setting']} | {r['method']} | {r['temperature'] or '-'}"
            f" | {r['kd_weight']} | {len(r['seeds'])} | "
            f"{100 * r['mean']:.2f} | {delta} |"
        )
    return rows, "\n".join(lines) + "\n"


def main(argv):
    del argv
    rows, markdown = search_table(FLAGS.runs_dir, FLAGS.prefix, FLAGS.baseline)
    stem = os.path.join(FLAGS.out_dir, f"{FLAGS.prefix}search")
    os.makedirs(FLAGS.out_dir, exist_ok=True)
    atomic_write_texts(
        {stem + ".md": markdown, stem + ".json": json.dumps(rows, indent=2)},
        overwrite=True,
    )
    print(markdown)


if __name__ == "__main__":
    define_flags()
    app.run(main)
