"""Aggregation of the accuracy benchmark's per-run files: table, CIs, plot.

Every (method, seed) run is one JSON file (see `accuracy.py`). This module
reads whatever runs exist, pairs them by seed and reports, per method:
mean ± std of the test top-1 and cross-entropy, the paired difference to the
student alone and to KD with a 95% confidence interval (t distribution over
the seeds both methods finished), and convergence: the epochs and seconds
each method needs to first reach the student alone's final accuracy.
"""

import json
import math
import os
import pathlib
import statistics

from kd_toolkit.recipes import methods
from kd_toolkit.utils.atomic_io import atomic_write_texts

LABELS = {
    "alone": "student alone",
    "kd_live": "Hinton KD (kd_toolkit, teacher run every step)",
    "keras_fair": "keras.distillation, fair (KLDivergence() object)",
    "keras_default": 'keras.distillation, default "kl_divergence" string',
    **{
        m.name: m.label
        + (" (kd_toolkit, teacher-output cache)" if m.teacher_cache else "")
        for m in map(methods.get, methods.names())
    },
}
# AMA's headline row is "ama_cached", the AMA a user gets: the best AMA
# setting of the validation search, and the fast one (benchmarks/run_v2.sh).
HEADLINE = ("alone", "kd", "keras_fair", "ama_cached")
HEADLINE_SEEDS, OTHER_SEEDS = 5, 3
# The setting that holds each method's temperature, for the methods with
# their own (the others run at KD's `temperature`), and its value for run
# files written before the setting existed.
TEMPERATURE_SETTING = {
    "dkd": ("dkd_temperature", None),  # not recorded before: "-"
    "kd_ls": ("ls_temperature", 2.0),  # fixed at 2 until it was a setting
}


def temperature(method, settings):
    """The temperature `method` ran at, from a run file's settings."""
    key, before = TEMPERATURE_SETTING.get(method, ("temperature", None))
    return settings.get(key, before)


def load_runs(run_dir):
    """`{method: {seed: row}}` from the `*.json` run files of `run_dir`."""
    runs = {}
    for path in sorted(pathlib.Path(run_dir).glob("*.json")):
        row = json.loads(path.read_text("utf-8"))
        runs.setdefault(row["method"], {})[int(row["seed"])] = row
    return runs


def t_quantile(n):
    """Two-sided 95% quantile of Student's t with `n − 1` degrees of freedom."""
    from scipy import stats

    return float(stats.t.ppf(0.975, n - 1))


def paired_ci(values, baseline):
    """Paired difference `values − baseline` over the seeds both have.

    Args:
        values: dict, seed -> number.
        baseline: dict, seed -> number.

    Returns:
        dict with `n`, `mean`, `low`, `high` (95% CI; None below 2 pairs)
        and `significant` (the CI excludes 0).
    """
    seeds = sorted(set(values) & set(baseline))
    diffs = [values[s] - baseline[s] for s in seeds]
    out = {
        "n": len(diffs),
        "mean": statistics.fmean(diffs) if diffs else None,
        "low": None,
        "high": None,
        "significant": False,
    }
    if len(diffs) >= 2:
        half = (
            t_quantile(len(diffs))
            * statistics.stdev(diffs)
            / math.sqrt(len(diffs))
        )
        out.update(low=out["mean"] - half, high=out["mean"] + half)
        out["significant"] = out["low"] > 0 or out["high"] < 0
    return out


def _mean_std(values):
    values = list(values)
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
    }


def convergence(rows, target):
    """Epochs and seconds to first reach `target` accuracy, mean over seeds.

    Seeds that never reach it are counted in `reached` / `n`; the means are
    over the seeds that did (None if none did).
    """
    epochs, seconds = [], []
    for row in rows:
        elapsed = 0.0
        for epoch, (acc, sec) in enumerate(
            zip(row["accuracy_per_epoch"], row["seconds_per_epoch"]), 1
        ):
            elapsed += sec
            if acc >= target:
                epochs.append(epoch)
                seconds.append(elapsed)
                break
    return {
        "n": len(rows),
        "reached": len(epochs),
        "epochs": statistics.fmean(epochs) if epochs else None,
        "seconds": statistics.fmean(seconds) if seconds else None,
    }


def summarize(runs, teacher_accuracy=None):
    """Per-method summary, paired CIs and convergence of `load_runs` output.

    With `teacher_accuracy`, each method's paired difference to the student
    alone is also given as a share of the gap from the student alone to the
    teacher (`gap_recovered`: 1.0 reaches the teacher; the gap is the
    alone's mean, so the interval is the difference's, scaled).
    """
    summary = {}
    alone = runs.get("alone", {})
    kd = runs.get("kd", {})
    target = None
    if alone:
        target = statistics.fmean(r["test_accuracy"] for r in alone.values())
    alone_epochs = None
    for method in sorted(runs, key=_order):
        rows = [runs[method][s] for s in sorted(runs[method])]
        acc = {s: r["test_accuracy"] for s, r in runs[method].items()}
        ce = {s: r["test_ce"] for s, r in runs[method].items()}
        entry = {
            "seeds": sorted(runs[method]),
            "test_accuracy": _mean_std(acc.values()),
            "test_ce": _mean_std(ce.values()),
            "train_ce": _mean_std(r["train_ce"] for r in rows),
            "seconds_per_epoch": _mean_std(
                statistics.median(r["seconds_per_epoch"]) for r in rows
            ),
            "accuracy_per_epoch": [
                _mean_std(v)
                for v in zip(*(r["accuracy_per_epoch"] for r in rows))
            ],
        }
        if method != "alone" and alone:
            entry["vs_alone"] = paired_ci(
                acc, {s: r["test_accuracy"] for s, r in alone.items()}
            )
            entry["vs_alone_per_epoch"] = _paired_curves(runs[method], alone)
            if teacher_accuracy is not None and entry["vs_alone"]:
                entry["gap_recovered"] = _share(
                    entry["vs_alone"], teacher_accuracy - target
                )
            alone_ce = statistics.fmean(r["test_ce"] for r in alone.values())
            entry["test_ce_change_vs_alone"] = (
                entry["test_ce"]["mean"] / alone_ce - 1.0
            )
        if method not in ("alone", "kd") and kd:
            entry["vs_kd"] = paired_ci(
                acc, {s: r["test_accuracy"] for s, r in kd.items()}
            )
        if target is not None:
            entry["convergence"] = convergence(rows, target)
            if method == "alone":
                alone_epochs = entry["convergence"]["epochs"]
        extra = [
            r["adapted_teacher_accuracy"]
            for r in rows
            if "adapted_teacher_accuracy" in r
        ]
        if extra:
            entry["adapted_teacher_accuracy"] = statistics.fmean(extra)
        summary[method] = entry
    for entry in summary.values():
        conv = entry.get("convergence")
        if conv and conv["epochs"] and alone_epochs:
            conv["epochs_ratio_vs_alone"] = conv["epochs"] / alone_epochs
    return {"target_accuracy": target, "methods": summary}


def _share(ci, gap):
    """`paired_ci`'s mean and bounds divided by `gap` (None where absent)."""
    return {
        k: (None if ci[k] is None or gap <= 0 else ci[k] / gap)
        for k in ("mean", "low", "high")
    }


def _paired_curves(runs, baseline):
    """`paired_ci` of the held-out accuracy after each epoch, over the seeds
    both have (epochs up to the shorter of their curves)."""
    seeds = sorted(set(runs) & set(baseline))
    if not seeds:
        return []
    epochs = min(
        len(r["accuracy_per_epoch"])
        for r in [runs[s] for s in seeds] + [baseline[s] for s in seeds]
    )
    return [
        paired_ci(
            {s: runs[s]["accuracy_per_epoch"][e] for s in seeds},
            {s: baseline[s]["accuracy_per_epoch"][e] for s in seeds},
        )
        for e in range(epochs)
    ]


# The tables' row order: the baselines, then the methods from the
# simplest to the most involved (a method missing here goes last).
TABLE_ORDER = (
    "alone",
    "kd_live",
    "keras_fair",
    "keras_default",
    "kd",
    "kd_ls",
    "dkd",
    "fitnets",
    "at",
    "rkd",
    "sp",
    "pkt",
    "crd",
    "review_kd",
    "ama",
    "ama_cached",
)


def _order(method):
    names = list(TABLE_ORDER)
    return (names.index(method) if method in names else len(names), method)


def _ci_text(ci):
    if ci is None or ci["mean"] is None:
        return "-"
    if ci["low"] is None:
        return f"{100 * ci['mean']:+.2f} (n={ci['n']}, no CI)"
    mark = " **significant**" if ci["significant"] else ""
    return (
        f"{100 * ci['mean']:+.2f} [{100 * ci['low']:+.2f}, "
        f"{100 * ci['high']:+.2f}]{mark}"
    )


def _share_text(share):
    if not share or share["mean"] is None:
        return "-"
    if share["low"] is None:
        return f"{100 * share['mean']:.0f}%"
    return (
        f"{100 * share['mean']:.0f}% [{100 * share['low']:.0f}%, "
        f"{100 * share['high']:.0f}%]"
    )


def to_markdown(result, compact=False):
    """The Results table: one row per method, missing runs marked.

    With `compact=True`, the block the Results pages show: no protocol
    description (the page gives it) and no seconds per epoch (runs from
    different machines and loads; docs/speed.md has the interleaved
    ratios).
    """
    meta, summary = result["meta"], result["summary"]
    gap = any("gap_recovered" in e for e in summary["methods"].values())
    lines = [] if compact else [meta["description"], ""]
    lines += [
        "| method | seeds | top-1 % (mean ± std) | Δ vs alone, 95% CI "
        + ("| gap recovered, 95% CI " if gap else "")
        + "| Δ vs KD, 95% CI | test CE (Δ vs alone) | epochs to alone's "
        "final acc." + (" |" if compact else " | s/epoch |"),
        "|---|---|---|---|---|---|---|"
        + ("---|" if gap else "")
        + ("" if compact else "---|"),
    ]
    for method, entry in summary["methods"].items():
        want = HEADLINE_SEEDS if method in HEADLINE else OTHER_SEEDS
        # A protocol that plans fewer seeds (`--seeds`) asks for no more.
        want = min(want, len(meta.get("seeds", range(want))))
        seeds = len(entry["seeds"])
        seeds_text = f"{seeds}" + (
            f" (of {want}: runs missing)" if seeds < want else ""
        )
        acc = entry["test_accuracy"]
        ce = entry["test_ce"]["mean"]
        ce_change = entry.get("test_ce_change_vs_alone")
        ce_text = f"{ce:.4f}" + (
            f" ({100 * ce_change:+.1f}%)" if ce_change is not None else ""
        )
        conv = entry.get("convergence") or {}
        if conv.get("epochs") is not None:
            conv_text = (
                f"{conv['epochs']:.1f} ({conv['reached']}/{conv['n']} seeds)"
            )
        else:
            conv_text = "not reached" if conv else "-"
        lines.append(
            f"| {LABELS.get(method, method)} | {seeds_text} | "
            f"{100 * acc['mean']:.2f} ± {100 * acc['std']:.2f} | "
            f"{_ci_text(entry.get('vs_alone'))} | "
            + (f"{_share_text(entry.get('gap_recovered'))} | " if gap else "")
            + f"{_ci_text(entry.get('vs_kd'))} | {ce_text} | {conv_text} |"
            + (
                ""
                if compact
                else f" {entry['seconds_per_epoch']['mean']:.1f} |"
            )
        )
    missing = [
        m for m in meta.get("methods", []) if m not in summary["methods"]
    ]
    if missing:
        lines += [
            "",
            "No finished runs yet: "
            + ", ".join(LABELS.get(m, m) for m in missing)
            + ".",
        ]
    lines += [
        "",
        "Δ columns: paired by seed (same initialisation, data "
        "order and augmented views), in points; **significant** marks "
        "a 95% CI that excludes 0."
        + (
            " Gap recovered: Δ vs alone as a share of the teacher's lead "
            "over the student alone (100%: as accurate as the teacher)."
            if gap
            else ""
        ),
        "",
        f"Command: `{meta['command']}`",
    ]
    if not compact:
        lines.append("")
    return "\n".join(lines)


def page_markers(tag):
    """The two lines that enclose protocol `tag`'s table in a page."""
    return f"<!-- results:{tag} -->", f"<!-- /results:{tag} -->"


def replace_block(text, tag, block):
    """`text` with the lines between `page_markers(tag)` replaced by
    `block`.

    Raises:
        ValueError: if the markers are missing, repeated or out of order.
    """
    begin, end = page_markers(tag)
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if line.strip() == begin]
    ends = [i for i, line in enumerate(lines) if line.strip() == end]
    if len(starts) != 1 or len(ends) != 1:
        found = f"{len(starts)} and {len(ends)} such lines"
    elif starts[0] > ends[0]:
        found = "the two lines in the wrong order"
    else:
        found = None
    if found:
        raise ValueError(
            f"Expected one `{begin}` line followed by one `{end}` line, "
            f"which enclose the table to replace. Received: {found}"
        )
    return "\n".join(
        lines[: starts[0] + 1] + block.split("\n") + lines[ends[0] :]
    )


def update_page(path, result):
    """Rewrites the block of `result`'s protocol in the Markdown page
    `path` with `to_markdown(result, compact=True)`, atomically.

    Raises:
        ValueError: naming `path` if its markers are missing, repeated or
            out of order.
    """
    block = to_markdown(result, compact=True)
    text = page_with(path, result["meta"]["tag"], block)
    atomic_write_texts({str(path): text}, overwrite=True)


def page_with(path, tag, block):
    """The text of the file `path` with protocol `tag`'s block replaced by
    `block` (`replace_block`), the error naming `path`."""
    text = pathlib.Path(path).read_text("utf-8")
    try:
        return replace_block(text, tag, block)
    except ValueError as err:
        raise ValueError(f"{err} in page={str(path)!r}") from None


def plot(result, path):
    """Two panels: the held-out accuracy per epoch (mean over seeds with a
    ± std band), and each method's paired difference to the student alone
    over the second half of the epochs (mean over the seeds both have,
    with its 95% CI band)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (ax, ax_delta) = plt.subplots(1, 2, figsize=(12, 6))
    for method, entry in result["summary"]["methods"].items():
        curve = entry["accuracy_per_epoch"]
        epochs = range(1, len(curve) + 1)
        mean = [100 * p["mean"] for p in curve]
        std = [100 * p["std"] for p in curve]
        (line,) = ax.plot(
            epochs,
            mean,
            marker="o",
            markersize=2,
            label=LABELS.get(method, method),
        )
        ax.fill_between(
            epochs,
            [m - s for m, s in zip(mean, std)],
            [m + s for m, s in zip(mean, std)],
            color=line.get_color(),
            alpha=0.15,
        )
        # The second half of training: early epochs swing by points, and
        # their intervals would hide the final differences.
        delta = entry.get("vs_alone_per_epoch") or []
        first = len(delta) // 2
        delta = delta[first:]
        if delta:
            epochs = range(first + 1, first + len(delta) + 1)
            ax_delta.plot(
                epochs,
                [100 * d["mean"] for d in delta],
                marker="o",
                markersize=2,
                color=line.get_color(),
            )
            if all(d["low"] is not None for d in delta):
                ax_delta.fill_between(
                    epochs,
                    [100 * d["low"] for d in delta],
                    [100 * d["high"] for d in delta],
                    color=line.get_color(),
                    alpha=0.15,
                )
    teacher = result["meta"].get("teacher_accuracy")
    if teacher:
        ax.axhline(100 * teacher, color="gray", linestyle="--", label="teacher")
    ax_delta.axhline(0.0, color="gray", linewidth=1)
    for a in (ax, ax_delta):
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.set_xlabel("epoch")
        a.grid(alpha=0.3)
    ax.set_ylabel("held-out top-1 % (mean ± std over seeds)")
    ax.set_title("Student accuracy per epoch")
    ax_delta.set_ylabel("Δ vs student alone, points (paired; 95% CI)")
    ax_delta.set_title(
        "Paired difference to the student alone, second half of training"
    )
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=7)
    rows = -(-len(labels) // 2)
    fig.tight_layout(rect=(0, 0.045 * rows, 1, 1))
    tmp = str(path) + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def write(result, out_dir, stem):
    """Writes `<stem>.json`, `<stem>.md` and `<stem>.png`; returns paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = [
        os.path.join(out_dir, f"{stem}.{ext}") for ext in ("json", "md", "png")
    ]
    atomic_write_texts(
        {
            paths[0]: json.dumps(result, indent=2, default=str),
            paths[1]: to_markdown(result),
        },
        overwrite=True,
    )
    if result["summary"]["methods"]:
        plot(result, paths[2])
    return paths
