"""The comparison table of compressed students: Markdown and JSON."""

import dataclasses
import json

from kd_toolkit.utils.report_files import SavesReportFiles

REPORT_MARKDOWN = "compression_report.md"
REPORT_JSON = "compression_report.json"


@dataclasses.dataclass(frozen=True)
class CompressionRow:
    """One compressed (or the float) student, measured from its artifact.

    Args:
        method: str. `"float"`, `"prune50"`, `"qat"`, `"ptq_int8"`, ...
        artifact: str. Artifact format, e.g. `"tflite_int8"`.
        accuracy: float or None. Top-1 accuracy (percent) of the artifact
            in the LiteRT interpreter on the evaluation set.
        size_bytes: int or None. `.tflite` size.
        gzip_bytes: int or None. gzip -9 size of the `.tflite`.
        zero_fraction: float or None. Fraction of zeros in the conv and
            dense kernels of the Keras model exported.
        latency_ms: float or None. Median single-image latency (LiteRT).
        path: str or None. The artifact.
        passed: bool. Whether the export checks held.
        notes: str. Failed checks or errors.
        details: dict. Method settings (schedule, fine-tuning history).
    """

    method: str
    artifact: str
    accuracy: float | None
    size_bytes: int | None
    gzip_bytes: int | None
    zero_fraction: float | None
    latency_ms: float | None
    path: str | None
    passed: bool = True
    notes: str = ""
    details: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class CompressionReport(SavesReportFiles):
    """Everything `compress_and_compare` measured.

    Args:
        student: str. Student model name.
        dataset: str or None. Dataset name.
        num_eval_samples: int. Test images the accuracies are over.
        settings: dict. Fine-tuning settings.
        rows: tuple of `CompressionRow`, the float student first.
        command: str or None. Command line that produced the report.
    """

    MARKDOWN_FILE = REPORT_MARKDOWN
    JSON_FILE = REPORT_JSON

    student: str
    dataset: str | None
    num_eval_samples: int
    settings: dict
    rows: tuple
    command: str | None = None

    def row(self, method):
        """The row of `method`, or None."""
        return next((r for r in self.rows if r.method == method), None)

    @property
    def targets(self):
        """The design's targets, each `{value, limit, met}`.

        - `qat_drop_vs_float`: float accuracy − QAT accuracy ≤ 0.3 pt;
        - `qat_minus_ptq_int8`: QAT accuracy − post-training int8 ≥ 0;
        - `prune50_drop_vs_float`: float − 50%-pruned accuracy ≤ 1.0 pt.
        """
        acc = {r.method: r.accuracy for r in self.rows}
        checks = {}
        if acc.get("float") is not None and acc.get("qat") is not None:
            drop = acc["float"] - acc["qat"]
            checks["qat_drop_vs_float"] = _target(drop, 0.3, drop <= 0.3)
        if acc.get("qat") is not None and acc.get("ptq_int8") is not None:
            gain = acc["qat"] - acc["ptq_int8"]
            checks["qat_minus_ptq_int8"] = _target(gain, 0.0, gain >= 0)
        if acc.get("float") is not None and acc.get("prune50") is not None:
            drop = acc["float"] - acc["prune50"]
            checks["prune50_drop_vs_float"] = _target(drop, 1.0, drop <= 1.0)
        return checks

    def to_dict(self):
        """Returns a JSON-ready dict (with `targets`)."""
        record = dataclasses.asdict(self)
        record["rows"] = [dataclasses.asdict(r) for r in self.rows]
        record["targets"] = self.targets
        return record

    def to_json(self):
        """The report as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def to_markdown(self):
        """The report as a Markdown table plus the target checks."""
        float_row = self.row("float")
        base = float_row.accuracy if float_row else None
        lines = [
            f"# Compression of `{self.student}` on {self.dataset} "
            f"({self.num_eval_samples} test images)",
            "",
            "| method | artifact | accuracy % | Δ vs float (pt) | size KiB | "
            "gzip KiB | kernel zeros | latency ms (median) | checks |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in self.rows:
            delta = (
                None
                if base is None or r.accuracy is None
                else r.accuracy - base
            )
            lines.append(
                f"| {r.method} | {r.artifact} | {_fmt(r.accuracy, '.2f')} | "
                f"{_fmt(delta, '+.2f')} | {_kib(r.size_bytes)} | "
                f"{_kib(r.gzip_bytes)} | {_fmt(r.zero_fraction, '.1%')} | "
                f"{_fmt(r.latency_ms, '.3f')} | "
                f"{'pass' if r.passed else 'FAIL: ' + r.notes} |"
            )
        if self.targets:
            lines += [
                "",
                "| target | value | limit | met |",
                "|---|---:|---:|---|",
            ]
            for name, t in self.targets.items():
                lines.append(
                    f"| {name} | {t['value']:+.2f} | {t['limit']} "
                    f"| {'yes' if t['met'] else 'no'} |"
                )
        lines += [
            "",
            "Settings: "
            + ", ".join(f"{k}={v}" for k, v in sorted(self.settings.items())),
        ]
        if self.command:
            lines += ["", "Reproduce:", "", "```", self.command, "```"]
        return "\n".join(lines) + "\n"


def _target(value, limit, met):
    return {"value": float(value), "limit": limit, "met": bool(met)}


def _fmt(value, spec):
    return "—" if value is None else format(value, spec)


def _kib(size):
    return "—" if size is None else f"{size / 1024:.1f}"
