"""JSON and Markdown reports of a distillation run."""

import json
import os

from kd_toolkit.utils.atomic_io import atomic_write_texts


def _fmt(value, digits=4):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def to_markdown(report):
    """Renders the result table of `run_distillation`'s report."""
    cfg = report["config"]
    if "distilled" in report:
        setup = (
            f"Teacher `{report['teacher']['arch']}`, student "
            f"`{report['student_arch']}`, method `{cfg['method']}`, "
            f"{cfg['epochs']} epochs, batch {cfg['batch_size']}"
        )
        if "xla" in report["distilled"]:
            setup += f", XLA {'on' if report['distilled']['xla'] else 'off'}"
    else:
        setup = f"Teacher `{report['teacher']['arch']}` only"
    cache = report.get("teacher_cache")
    if cache:
        setup += (
            f", KD from the teacher-output cache ({cache['draws']} "
            f"views per image, {cache['seconds']:.1f} s to build or "
            "load)"
        )
    unlabeled = report.get("unlabeled_images", 0)
    names = report.get("class_names")
    lines = [
        f"# Distillation report: {report.get('data', cfg['dataset'])}",
        "",
        f"{setup}, train images {report['train_images']}"
        + (f" (+ {unlabeled} unlabeled)" if unlabeled else "")
        + f", test images {report['test_images']}.",
        "",
        *(
            [f"Classes ({len(names)}): {', '.join(names)}.", ""]
            if names
            else []
        ),
        "| model | test top-1 | params | epochs | seconds/epoch |",
        "|---|---|---|---|---|",
    ]
    for key, label in (
        ("teacher", "teacher"),
        ("student_alone", "student alone"),
        ("distilled", f"student + {cfg['method']}"),
    ):
        row = report.get(key)
        if row is None:
            continue
        lines.append(
            f"| {label} | {_fmt(row['test_accuracy'])} | {row['params']:,} "
            f"| {row['epochs']} | {_fmt(row.get('seconds_per_epoch'), 1)} |"
        )
    alone, distilled = report.get("student_alone"), report.get("distilled")
    if alone and distilled:
        gain = 100 * (distilled["test_accuracy"] - alone["test_accuracy"])
        time_ratio = distilled["seconds_per_epoch"] / alone["seconds_per_epoch"]
        lines += [
            "",
            f"**Distillation: {gain:+.2f} points** of test top-1 "
            "over the same student trained alone (same initialisation"
            ", data and epochs; one seed: see docs/results.md for"
            f" paired seeds), at {time_ratio:.2f}× its seconds per "
            "epoch.",
        ]
    final = report.get("distilled", {}).get("final_logs", {})
    if final:
        lines += [
            "",
            "Final training loss terms of the distilled run: "
            + ", ".join(f"`{k}`={_fmt(v)}" for k, v in sorted(final.items()))
            + ".",
        ]
    lines += ["", f"Command: `{report['command']}`", ""]
    return "\n".join(lines)


def write_report(report, out_dir, stem="report"):
    """Writes `<stem>.json` and `<stem>.md` atomically; returns both paths."""
    json_path = os.path.join(out_dir, f"{stem}.json")
    md_path = os.path.join(out_dir, f"{stem}.md")
    os.makedirs(out_dir, exist_ok=True)
    atomic_write_texts(
        {
            json_path: json.dumps(report, indent=2, default=str),
            md_path: to_markdown(report),
        },
        overwrite=True,
    )
    return json_path, md_path
