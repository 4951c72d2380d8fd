"""Summary, Markdown table and plot of the accuracy benchmark."""

import json
import os
import statistics

from kd_toolkit.utils.atomic_io import atomic_write_texts

LABELS = {
    "alone": "student alone",
    "kd": "Hinton KD (kd_toolkit)",
    "fitnets_kd": "FitNets + KD",
    "at_kd": "AT + KD",
    "keras_kd": "keras.distillation (LogitsDistillation)",
    "ama_kd": "AMA + KD",
}


def _mean_std(values):
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return mean, std


def summarize(rows):
    """Mean ± std over seeds of the per-seed rows of one method."""
    if not rows:
        return {}
    out = {}
    for key in ("test_accuracy", "train_ce", "test_ce", "final_objective",
                "seconds_per_epoch"):
        mean, std = _mean_std([r[key] for r in rows])
        out[key] = {"mean": mean, "std": std}
    curves = [r["accuracy_per_epoch"] for r in rows]
    out["accuracy_per_epoch"] = [statistics.fmean(v) for v in zip(*curves)]
    if "adapted_teacher_accuracy" in rows[0]:
        out["adapted_teacher_accuracy"] = _mean_std(
            [r["adapted_teacher_accuracy"] for r in rows])[0]
    return out


def to_markdown(result):
    meta, summary = result["meta"], result["summary"]
    t = result["teacher"]
    s = meta["settings"]
    alone = summary.get("alone", {}).get("test_accuracy", {}).get("mean")
    lines = [
        f"Fashion-MNIST, {meta['evaluation']}; teacher `{t['arch']}` "
        f"({t['params']:,} params, {t['epochs']} epochs on "
        f"{t['train_images']:,} images): "
        f"top-1 {100 * t['accuracy']:.2f}%. Student `{s['student']}`"
        f"{' width ' + str(s['student_width']) if s['student_width'] else ''}"
        f", {s['epochs']} epochs on the first {meta['train_images']:,} "
        f"training images, Adam {s['learning_rate']} cosine, batch "
        f"{128}, seeds {', '.join(meta['seeds'])}; {meta['machine']}, "
        f"{meta['date']}.", "",
        "| method | top-1 % (mean ± std) | Δ vs alone | final train CE "
        "| test CE | s/epoch |",
        "|---|---|---|---|---|---|"]
    for method, row in summary.items():
        if not row:
            continue
        acc = row["test_accuracy"]
        delta = ("-" if alone is None or method == "alone"
                 else f"{100 * (acc['mean'] - alone):+.2f}")
        lines.append(
            f"| {LABELS.get(method, method)} | {100 * acc['mean']:.2f} ± "
            f"{100 * acc['std']:.2f} | {delta} | "
            f"{row['train_ce']['mean']:.4f} | {row['test_ce']['mean']:.4f} | "
            f"{row['seconds_per_epoch']['mean']:.1f} |")
    ama = summary.get("ama_kd", {})
    if "adapted_teacher_accuracy" in ama:
        lines += ["", f"Adapted teacher (after distillation, mean over "
                  f"seeds): top-1 {100 * ama['adapted_teacher_accuracy']:.2f}"
                  f"%; AMA replaces `{s['ama_start']}` → `{s['ama_end']}`, "
                  f"map weight {s['ama_map_weight']}, γ {s['ama_gamma']}, "
                  f"warm-up {s['ama_warmup_steps']} steps."]
    lines += ["", f"Command: `{meta['command']}`", ""]
    return "\n".join(lines)


def plot(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method, row in result["summary"].items():
        if row:
            curve = [100 * v for v in row["accuracy_per_epoch"]]
            ax.plot(range(1, len(curve) + 1), curve, marker="o",
                    markersize=3, label=LABELS.get(method, method))
    ax.axhline(100 * result["teacher"]["accuracy"], color="gray",
               linestyle="--", label="teacher")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test top-1 % (mean over seeds)")
    ax.set_title("Fashion-MNIST student accuracy per epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def write(result, out_dir, stem):
    """Writes `<stem>.json`, `<stem>.md` and `<stem>.png`; returns paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(out_dir, f"{stem}.{ext}")
             for ext in ("json", "md", "png")]
    atomic_write_texts({
        paths[0]: json.dumps(result, indent=2, default=str),
        paths[1]: to_markdown(result)}, overwrite=True)
    plot(result, paths[2])
    return paths
