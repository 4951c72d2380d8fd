"""The student search's ranking, table, plot and report, rebuilt from the
candidates' result files (`kd_toolkit.recipes.student_search`)."""

import json
import pathlib

from kd_toolkit.utils.atomic_io import atomic_write_bytes
from kd_toolkit.utils.atomic_io import atomic_write_texts

REPORT_MARKDOWN = "search.md"
REPORT_JSON = "search.json"
PLOT = "search.png"

# The fields of a candidate's record that the table shows.
RECORD_FIELDS = (
    "name",
    "params",
    "keras_accuracy",
    "accuracy",
    "passed",
    "latency_ms",
    "flash_bytes",
    "arena_bytes",
    "edge_tpu_ready",
    "train_seconds",
)


def status(record, budget):
    """`"failed verification"`, `"over budget"` or `"fits"`."""
    if not record.get("passed"):
        return "failed verification"
    return "over budget" if budget.misses(record) else "fits"


def rank(records, budget):
    """The most accurate record (artifact top-1) among those that passed
    verification and fit `budget`; on a tie, the smaller file. None when
    none fits."""
    fits = [
        r
        for r in records
        if status(r, budget) == "fits" and r.get("accuracy") is not None
    ]
    if not fits:
        return None
    return max(fits, key=lambda r: (r["accuracy"], -(r["flash_bytes"] or 0)))


def next_larger(records, winner):
    """The passing candidate with the fewest parameters above the
    winner's, or None (refinements of the winner are not candidates)."""
    larger = [
        r
        for r in records
        if r.get("passed")
        and r.get("refined_from") is None
        and r["params"] > winner["params"]
    ]
    return min(larger, key=lambda r: r["params"]) if larger else None


def pareto_front(records):
    """The passing records no faster one beats on accuracy, fastest first."""
    done = [
        r
        for r in records
        if r.get("passed")
        and r.get("latency_ms") is not None
        and r.get("accuracy") is not None
    ]
    front, best = [], float("-inf")
    for r in sorted(done, key=lambda r: (r["latency_ms"], -r["accuracy"])):
        if r["accuracy"] > best:
            front.append(r)
            best = r["accuracy"]
    return front


def one_line(record):
    acc = record.get("accuracy")
    lat = record.get("latency_ms")
    return (
        f"{record['name']}: {record['params']:,} params, "
        + ("" if acc is None else f"top-1 {acc:.2f}%, ")
        + ("" if lat is None else f"{lat:.4f} ms, ")
        + f"{record.get('flash_bytes') or 0:,} B"
        + ("" if record.get("passed") else " (FAILED verification)")
    )


def _cell(value, fmt):
    return "n/a" if value is None else format(value, fmt)


def to_markdown(records, budget, winner, info):
    lines = [
        "# Student search",
        "",
        f"Budget: {budget.describe()}. Method {info['method']}, "
        f"{info['epochs']} epochs per candidate from one teacher-output "
        f"cache ({info['cache_seconds']:.1f} s to open or build), "
        f"{info['train_examples']:,} training and {info['val_examples']:,} "
        "validation examples; accuracies are top-1 on the validation "
        f"examples, of the Keras model and of the {budget.format} artifact; "
        f"latency is the LiteRT median at batch 1.",
        "",
        "| candidate | params | Keras top-1 | artifact top-1 | latency (ms) "
        "| flash (B) | arena (B) | status |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in sorted(records, key=lambda r: r["params"]):
        misses = budget.misses(r) if r.get("passed") else []
        state = status(r, budget)
        if misses:
            state += ": " + "; ".join(misses)
        elif not r.get("passed"):
            state += ": " + "; ".join(r.get("failed_checks") or ["?"])
        if winner is not None and r["name"] == winner["name"]:
            state = "**winner**"
        lines.append(
            f"| {r['name']} | {r['params']:,} "
            f"| {_cell(r.get('keras_accuracy'), '.2f')} "
            f"| {_cell(r.get('accuracy'), '.2f')} "
            f"| {_cell(r.get('latency_ms'), '.4f')} "
            f"| {_cell(r.get('flash_bytes'), ',')} "
            f"| {_cell(r.get('arena_bytes'), ',')} | {state} |"
        )
    lines.append("")
    if winner is None:
        lines.append("No candidate passed verification within the budget.")
    else:
        lines.append(
            f"Winner: **{winner['name']}**, top-1 {winner['accuracy']:.2f}% "
            f"({budget.format}), {winner['latency_ms']:.4f} ms, "
            f"{winner['flash_bytes']:,} B; its artifact, model card and "
            "Keras model are in `winner/`."
        )
        larger = next_larger(records, winner)
        if larger is None:
            lines.append("No larger candidate passed verification.")
        else:
            misses = budget.misses(larger)
            lines.append(
                f"The next larger candidate, {larger['name']} "
                f"({larger['params']:,} params, top-1 "
                f"{_cell(larger.get('accuracy'), '.2f')}%), "
                + (
                    "misses the budget: " + "; ".join(misses) + "."
                    if misses
                    else "fits the budget but is less accurate."
                )
            )
    return "\n".join(lines) + "\n"


def plot_png(records, budget, winner):
    """Accuracy against latency (log scale over a wide range), marker
    area by flash, the latency budget as a line, the Pareto front joined;
    PNG bytes."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    done = [
        r
        for r in records
        if r.get("latency_ms") is not None and r.get("accuracy") is not None
    ]
    largest = max([r.get("flash_bytes") or 1 for r in done] or [1])
    for r in done:
        state = status(r, budget)
        color = {"fits": "tab:green", "over budget": "tab:orange"}.get(
            state, "tab:gray"
        )
        size = 30 + 400 * (r.get("flash_bytes") or 0) / largest
        marker = "x" if state == "failed verification" else "o"
        ax.scatter(
            r["latency_ms"],
            r["accuracy"],
            s=size,
            c=color,
            marker=marker,
            alpha=0.7,
            edgecolors="black" if winner is r else "none",
        )
        ax.annotate(
            r["name"],
            (r["latency_ms"], r["accuracy"]),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    front = pareto_front(records)
    if len(front) > 1:
        ax.plot(
            [r["latency_ms"] for r in front],
            [r["accuracy"] for r in front],
            "k--",
            lw=0.8,
            label="Pareto front",
        )
    if budget.latency_ms is not None:
        ax.axvline(
            budget.latency_ms,
            color="tab:red",
            lw=1,
            label=f"latency budget {budget.latency_ms:g} ms",
        )
    latencies = [r["latency_ms"] for r in done]
    if latencies and max(latencies) > 5 * min(latencies):
        ax.set_xscale("log")
    ax.set_xlabel(
        f"LiteRT median latency, ms ({budget.threads} thread, "
        f"{'XNNPACK' if budget.xnnpack else 'built-in kernels'})"
    )
    ax.set_ylabel(f"top-1, % ({budget.format})")
    ax.set_title("Candidates (marker area: flash bytes; green: fits)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def write(out_dir, records, budget, winner, info):
    """Writes `search.md`, `search.json` and `search.png`; returns the
    Markdown and PNG paths."""
    out_dir = pathlib.Path(out_dir)
    markdown = to_markdown(records, budget, winner, info)
    payload = {
        "budget": budget.__dict__,
        "info": info,
        "winner": None if winner is None else winner["name"],
        "candidates": list(records),
    }
    atomic_write_texts(
        {
            out_dir / REPORT_MARKDOWN: markdown,
            out_dir / REPORT_JSON: json.dumps(payload, indent=1, default=str),
        },
        overwrite=True,
    )
    atomic_write_bytes(
        out_dir / PLOT, plot_png(records, budget, winner), overwrite=True
    )
    return out_dir / REPORT_MARKDOWN, out_dir / PLOT
