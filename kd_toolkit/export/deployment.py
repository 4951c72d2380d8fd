"""The deployment checks of the export report: microcontroller fit, per-layer
int8 error and Edge TPU readiness, for the artifacts that passed."""

import dataclasses
import os

from kd_toolkit.export.artifact_format import get_format
from kd_toolkit.export.edgetpu_check import edgetpu_check
from kd_toolkit.export.layer_error import layer_errors
from kd_toolkit.export.layer_error import worst
from kd_toolkit.export.micro import micro_fit
from kd_toolkit.export.quantization import Quantization

# Inputs compared between TFLM and LiteRT, and per layer.
SAMPLES = 32


@dataclasses.dataclass(frozen=True)
class DeploymentChecks:
    """What `deployment_checks` found.

    Args:
        micro: tuple of `MicroFit`, one per full-integer artifact.
        layer_errors: tuple of `LayerError` of the `tflite_int8` artifact
            against the float32 `.tflite`, in execution order.
        edge_tpu: `EdgeTpuCheck` of the `tflite_int8` artifact, or None.
    """

    micro: tuple = ()
    layer_errors: tuple = ()
    edge_tpu: object = None

    def to_dict(self):
        """JSON-ready."""
        return {
            "micro": [dataclasses.asdict(m) for m in self.micro],
            "layer_errors": [e.to_dict() for e in self.layer_errors],
            "edge_tpu": (
                None
                if self.edge_tpu is None
                else dataclasses.asdict(self.edge_tpu)
            ),
        }

    def markdown_lines(self):
        """The report's sections for the checks that ran."""
        lines = []
        if self.micro:
            lines += [
                "",
                "## Microcontroller fit",
                "",
                "| artifact | flash (KiB) | tensor arena (KiB) | how "
                "| TFLM vs LiteRT |",
                "|---|---:|---:|---|---|",
            ]
            for m in self.micro:
                parity = (
                    "n/a"
                    if m.max_diff_steps is None
                    else f"max {m.max_diff_steps:.0f} output steps, top-1 "
                    f"{m.top1_agreement:.1%} ({m.parity_samples} "
                    "inputs)"
                )
                how = (
                    "measured (TFLM)"
                    if m.measured
                    else f"**estimate**: {m.note}"
                )
                lines.append(
                    f"| {m.artifact} | {m.flash_bytes / 1024:.1f} "
                    f"| {m.arena_bytes / 1024:.1f} | {how} "
                    f"| {parity} |"
                )
            lines += [
                "",
                "Flash is the model file alone (the interpreter's "
                "code comes on top); the arena is the smallest the "
                "TFLM interpreter (reference kernels) allocates the "
                "model in. Optimized kernels (e.g. CMSIS-NN) may need "
                "scratch buffers beyond it.",
            ]
        if self.layer_errors:
            lines += [
                "",
                "## Per-layer int8 error (worst five)",
                "",
                "Each op output of `tflite_int8` against the float32 "
                ".tflite on the same inputs; errors accumulate along "
                "the network, so look for the layer where they jump.",
                "",
                "| op # | op | output tensor | SNR (dB) | cosine |",
                "|---:|---|---|---:|---:|",
            ]
            for e in worst(self.layer_errors):
                lines.append(
                    f"| {e.position} | {e.op} | `{e.tensor}` | "
                    f"{e.snr_db:.1f} | {e.cosine:.5f} |"
                )
        if self.edge_tpu is not None:
            check = self.edge_tpu
            verdict = (
                "ready"
                if check.ready
                else f"not ready: {'; '.join(check.problems[:5])}"
            )
            lines += [
                "",
                "## Edge TPU readiness (`tflite_int8`)",
                "",
                f"{verdict} ({check.note}).",
            ]
        return lines


def deployment_checks(
    artifacts,
    float32_tflite,
    samples,
    *,
    microcontroller=False,
    per_layer_error=False,
    edge_tpu=False,
):
    """Runs the requested checks on the passing artifacts.

    Args:
        artifacts: the `ArtifactReport`s of one export.
        float32_tflite: bytes of the float32 `.tflite` (the per-layer
            reference), or None.
        samples: float32 evaluation inputs; the first 32 are used.
        microcontroller: TFLM arena and flash of each full-integer artifact
            (`kd_toolkit.export.micro`).
        per_layer_error: each op of `tflite_int8` against the float32 model
            (`kd_toolkit.export.layer_error`).
        edge_tpu: static Edge TPU check of `tflite_int8`.

    Returns:
        `DeploymentChecks`.
    """
    passed = [a for a in artifacts if a.passed and a.path]
    full_integer = [
        a
        for a in passed
        if get_format(a.format).quantization
        in (Quantization.INT8, Quantization.INT8_FLOAT_IO)
    ]
    int8 = next((a for a in passed if a.format == "tflite_int8"), None)
    # Per-layer errors help most where the artifact failed: its file is
    # kept as `.failed`.
    written = next(
        (
            a
            for a in artifacts
            if a.format == "tflite_int8" and a.path and os.path.isfile(a.path)
        ),
        None,
    )
    samples = samples[:SAMPLES]
    return DeploymentChecks(
        micro=tuple(
            micro_fit(a.path, samples, artifact=a.format) for a in full_integer
        )
        if microcontroller
        else (),
        layer_errors=(
            layer_errors(written.path, float32_tflite, samples)
            if per_layer_error and written and float32_tflite
            else ()
        ),
        edge_tpu=edgetpu_check(int8.path) if edge_tpu and int8 else None,
    )
