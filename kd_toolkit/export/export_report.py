"""The export report: every artifact's checks, as Markdown and JSON."""

import dataclasses
import json

from kd_toolkit.export.latency import LatencyStats
from kd_toolkit.export.latency_table import (
    to_markdown as latency_table_markdown,
)
from kd_toolkit.utils.report_files import SavesReportFiles

REPORT_MARKDOWN = "export_report.md"
REPORT_JSON = "export_report.json"


def _fmt(value, spec, missing="n/a"):
    return missing if value is None else format(value, spec)


@dataclasses.dataclass(frozen=True)
class ExportReport(SavesReportFiles):
    """Verification results of all artifacts exported from one model.

    Args:
        model_name: str. The Keras model's name.
        dataset: str or None. Evaluation dataset name, if known.
        num_eval_samples: int. Samples every artifact was compared on.
        keras_accuracy: float or None. Keras top-1 accuracy, percent.
        keras_latency: `LatencyStats`. Keras single-image latency.
        num_threads: int. Threads given to LiteRT and onnxruntime.
        artifacts: tuple of `ArtifactReport`.
        latency_table: tuple of `LatencyRow`: batch-1 latency of each
            passing artifact per thread count and delegate (empty when not
            measured).
        deployment: `DeploymentChecks` (microcontroller fit, per-layer
            int8 error, Edge TPU readiness), or None when not run.
        size_basis: str or None. What the default size bounds applied to
            and why (e.g. `"weights (auto: 25,000 parameters < 100,000)"`).
    """

    MARKDOWN_FILE = REPORT_MARKDOWN
    JSON_FILE = REPORT_JSON

    model_name: str
    dataset: str | None
    num_eval_samples: int
    keras_accuracy: float | None
    keras_latency: LatencyStats
    num_threads: int
    artifacts: tuple
    latency_table: tuple = ()
    deployment: object = None
    size_basis: str | None = None

    @property
    def passed(self):
        """True when every artifact passed."""
        return all(artifact.passed for artifact in self.artifacts)

    @property
    def failed(self):
        """The names of the failing formats."""
        return tuple(a.format for a in self.artifacts if not a.passed)

    def to_dict(self):
        """Returns a JSON-ready dict."""
        return {
            "model_name": self.model_name,
            "dataset": self.dataset,
            "num_eval_samples": self.num_eval_samples,
            "keras_accuracy": self.keras_accuracy,
            "keras_latency": dataclasses.asdict(self.keras_latency),
            "num_threads": self.num_threads,
            "passed": self.passed,
            "artifacts": [artifact.to_dict() for artifact in self.artifacts],
            "latency_table": [
                dataclasses.asdict(row) for row in self.latency_table
            ],
            "deployment": (
                None if self.deployment is None else self.deployment.to_dict()
            ),
            "size_basis": self.size_basis,
        }

    def to_json(self, indent=2):
        """Returns the report as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent)

    def to_markdown(self):
        """Returns the report as a Markdown table with a short header.

        Size: one Markdown page, section after section in the order a reader
        meets them.
        """
        lat = self.keras_latency
        lines = [
            f"# Export report: {self.model_name}",
            "",
            f"- evaluation: {self.num_eval_samples} samples of "
            f"{self.dataset or 'the given data'}",
            f"- Keras: accuracy {_fmt(self.keras_accuracy, '.2f')}%, "
            f"single-image latency median {lat.median_ms:.3f} ms, "
            f"p90 {lat.p90_ms:.3f} ms ({lat.runs} runs)",
            f"- runtimes: {self.num_threads} thread(s); size and weights "
            "(stored tensor data) ratios are against the float32 .tflite"
            + (
                f"; default size bound on: {self.size_basis}"
                if self.size_basis
                else ""
            ),
            f"- overall: {'PASS' if self.passed else 'FAIL'}",
            "",
            "| format | size (KiB) | size ratio | weights ratio | I/O dtype "
            "| max abs diff "
            "| mean abs diff | cosine | top-1 agree | confident agree* "
            "| accuracy (%) | drop (pt) | latency median / p90 (ms) "
            "| result |",
            "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:"
            "|---|",
        ]
        for a in self.artifacts:
            p = a.parity
            size_kib = None if a.size_bytes is None else a.size_bytes / 1024
            latency = (
                "n/a"
                if a.latency is None
                else f"{a.latency.median_ms:.3f} / {a.latency.p90_ms:.3f}"
            )
            result = (
                "PASS" if a.passed else "FAIL: " + "; ".join(a.failed_checks)
            )
            dtype = (
                "n/a"
                if a.input_dtype is None
                else f"{a.input_dtype}/{a.output_dtype}"
            )
            lines.append(
                f"| {a.format} | {_fmt(size_kib, '.1f')} "
                f"| {_fmt(a.size_ratio, '.3f')} "
                f"| {_fmt(a.weights_ratio, '.3f')} | {dtype} "
                f"| {_fmt(p and p.max_abs_diff, '.2e')} "
                f"| {_fmt(p and p.mean_abs_diff, '.2e')} "
                f"| {_fmt(p and p.cosine_similarity, '.6f')} "
                f"| {_fmt(p and p.top1_agreement * 100, '.2f')}% "
                f"| {_fmt(p and p.confident_top1_agreement * 100, '.2f')}% "
                f"| {_fmt(p and p.accuracy, '.2f')} "
                f"| {_fmt(p and p.accuracy_drop, '+.2f')} "
                f"| {latency} | {result} |"
            )
        lines += [
            "",
            "*Top-1 agreement on the predictions whose Keras "
            "margin (first minus second output) exceeds twice the "
            "99th percentile of the artifact's per-sample output "
            "error: the flips that rounding cannot explain.",
        ]
        if self.latency_table:
            lines += [
                "",
                "## Latency, batch 1",
                "",
                "Each passing artifact per thread count, with LiteRT's "
                "default delegate (XNNPACK) and without it; ratios to "
                "the float32 .tflite in the same configuration, "
                "measured in this run.",
                "",
            ]
            lines += latency_table_markdown(self.latency_table)
        if self.deployment is not None:
            lines += self.deployment.markdown_lines()
        errors = [a for a in self.artifacts if a.error]
        if errors:
            lines += ["", "## Errors", ""]
            lines += [f"- {a.format}: {a.error}" for a in errors]
        return "\n".join(lines) + "\n"
