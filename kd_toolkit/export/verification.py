"""Verify one exported artifact against its Keras model in the real runtime."""

import dataclasses
import pathlib

from kd_toolkit.export.artifact_format import Runtime
from kd_toolkit.export.artifact_format import get_format
from kd_toolkit.export.latency import DEFAULT_RUNS
from kd_toolkit.export.latency import DEFAULT_WARMUP
from kd_toolkit.export.latency import LatencyStats
from kd_toolkit.export.latency import measure_latency
from kd_toolkit.export.parity import Parity
from kd_toolkit.export.parity import compare_outputs
from kd_toolkit.export.runners import LiteRTRunner
from kd_toolkit.export.runners import OnnxRunner
from kd_toolkit.export.tflite_inspect import non_builtin_ops
from kd_toolkit.export.tflite_inspect import weight_bytes
from kd_toolkit.export.thresholds import AcceptanceThresholds
from kd_toolkit.export.thresholds import default_thresholds

# Accuracy drops are ratios of sample counts; allow float round-off only.
_ACCURACY_EPS = 1e-9


@dataclasses.dataclass(frozen=True)
class ArtifactReport:
    """The verification record of one artifact.

    Args:
        format: str. Artifact format name, e.g. `"tflite_int8"`.
        path: str or None. Where the artifact is (a failing artifact is
            moved aside to `<name>.failed`); None if conversion failed.
        size_bytes: int or None. File size.
        size_ratio: float or None. Size over the float32 `.tflite` size.
        weights_ratio: float or None. LiteRT weight payload over the float32
            payload (None for ONNX).
        input_dtype, output_dtype: str or None. Artifact I/O tensor dtypes.
        non_builtin_ops: tuple of str. Custom / select TF ops (LiteRT).
        parity: `Parity` or None. Output comparison with Keras.
        latency: `LatencyStats` or None. Single-image latency.
        thresholds: `AcceptanceThresholds` applied.
        failed_checks: tuple of str. One line per failed check.
        error: str or None. Conversion or runtime error, if any.
    """

    format: str
    path: str | None
    size_bytes: int | None
    size_ratio: float | None
    weights_ratio: float | None
    input_dtype: str | None
    output_dtype: str | None
    non_builtin_ops: tuple
    parity: Parity | None
    latency: LatencyStats | None
    thresholds: AcceptanceThresholds
    failed_checks: tuple
    error: str | None = None

    @property
    def passed(self):
        """True when the artifact ran and every check held."""
        return self.error is None and not self.failed_checks

    def to_dict(self):
        """Returns a JSON-ready dict (with `passed`)."""
        record = dataclasses.asdict(self)
        record["non_builtin_ops"] = list(self.non_builtin_ops)
        record["failed_checks"] = list(self.failed_checks)
        record["passed"] = self.passed
        return record


def failed_report(artifact_format, error, thresholds=None, path=None):
    """Returns the report of an artifact that could not be produced or run."""
    artifact_format = get_format(artifact_format)
    return ArtifactReport(
        format=artifact_format.name,
        path=None if path is None else str(path),
        size_bytes=None,
        size_ratio=None,
        weights_ratio=None,
        input_dtype=None,
        output_dtype=None,
        non_builtin_ops=(),
        parity=None,
        latency=None,
        thresholds=thresholds or default_thresholds(artifact_format),
        failed_checks=(f"error: {type(error).__name__}",),
        error=f"{type(error).__name__}: {error}",
    )


def _ratio_check(name, ratio, bound):
    if bound is None:
        return []
    if ratio is None:
        return [f"{name}: no float32 .tflite reference"]
    if ratio > bound:
        return [f"{name} {ratio:.3f} > {bound:.3f}"]
    return []


# Agreement on confident predictions means something only if there are
# enough of them: an artifact whose errors dwarf the margins would otherwise
# pass it vacuously. Enough: as many as make a disagreement rate at the
# bound show once on average (1 / (1 − bound): 100 for 99%, 1000 for
# 99.9%), and never more than half of the predictions.
MIN_CONFIDENT_FRACTION = 0.5


def min_confident(num_samples, bound):
    """Confident predictions needed to judge agreement against `bound`."""
    half = MIN_CONFIDENT_FRACTION * num_samples
    return half if bound >= 1.0 else min(half, 1.0 / (1.0 - bound))


def _confident_agreement_check(parity, bound):
    if bound is None:
        return []
    needed = min_confident(parity.num_samples, bound)
    if parity.num_confident < needed:
        return [
            f"confident_agreement: only {parity.num_confident} of "
            f"{parity.num_samples} predictions have a margin above the flip "
            f"margin {parity.flip_margin:.3g}, fewer than the {needed:.0f} "
            "needed: the artifact's errors are too large to judge its "
            "agreement"
        ]
    if parity.confident_top1_agreement < bound:
        return [
            f"confident_agreement {parity.confident_top1_agreement:.4%} < "
            f"{bound:.4%} on the {parity.num_confident} predictions with "
            f"margin > {parity.flip_margin:.3g}"
        ]
    return []


def _checks(artifact_format, thresholds, parity, ratios, extra_ops):
    failed = []
    t = thresholds
    if t.max_abs_diff is not None and not parity.max_abs_diff <= t.max_abs_diff:
        failed.append(
            f"max_abs_diff {parity.max_abs_diff:.3g} > {t.max_abs_diff:.3g}"
        )
    if (
        t.min_top1_agreement is not None
        and parity.top1_agreement < t.min_top1_agreement
    ):
        failed.append(
            f"top1_agreement {parity.top1_agreement:.4%} < "
            f"{t.min_top1_agreement:.4%}"
        )
    failed += _confident_agreement_check(parity, t.min_confident_agreement)
    if t.max_accuracy_drop is not None:
        if parity.accuracy_drop is None:
            failed.append("accuracy_drop: no labels to measure accuracy")
        elif parity.accuracy_drop > t.max_accuracy_drop + _ACCURACY_EPS:
            failed.append(
                f"accuracy_drop {parity.accuracy_drop:.2f} pt > "
                f"{t.max_accuracy_drop:.2f} pt"
            )
    failed += _ratio_check("size_ratio", ratios[0], t.max_size_ratio)
    failed += _ratio_check("weights_ratio", ratios[1], t.max_weights_ratio)
    if (
        artifact_format.runtime is Runtime.LITERT
        and t.builtin_ops_only
        and extra_ops
    ):
        failed.append(f"non-builtin ops {list(extra_ops)}")
    return tuple(failed)


def verify_artifact(
    artifact_format,
    path,
    reference_outputs,
    x,
    labels=None,
    thresholds=None,
    reference_size=None,
    latency_runs=DEFAULT_RUNS,
    latency_warmup=DEFAULT_WARMUP,
    num_threads=1,
    reference_weight_bytes=None,
):
    """Runs an artifact in its runtime and checks it against Keras outputs.

    Args:
        artifact_format: `ArtifactFormat` or name, e.g. `"tflite_int8"`.
        path: str or `os.PathLike`. The artifact file.
        reference_outputs: float array `(N, C)`: the Keras outputs on `x`.
        x: float32 array `(N, ...)`: the evaluation inputs.
        labels: optional int array `(N,)`: enables the accuracy checks.
        thresholds: `AcceptanceThresholds` or None for
            `default_thresholds(artifact_format)`.
        reference_size: int or None. Size in bytes of the float32 `.tflite`
            of the same model: the reference of `size_ratio`.
        latency_runs: int. Timed single-image runs. Defaults to `200`.
        latency_warmup: int. Untimed runs first. Defaults to `20`.
        num_threads: int. Runtime threads. Defaults to `1`.
        reference_weight_bytes: int or None. Weight payload of that float32
            `.tflite` (`tflite_inspect.weight_bytes`): the reference of
            `weights_ratio` (LiteRT artifacts only).

    Returns:
        `ArtifactReport`; `passed` is False if any check failed or the
        runtime could not run the artifact (the error is recorded).

    Example:

    ```python
    report = verify_artifact("tflite_int8", "s_int8.tflite",
                             keras_logits, x_test, y_test)
    assert report.passed, report.failed_checks
    ```
    """
    artifact_format = get_format(artifact_format)
    thresholds = thresholds or default_thresholds(artifact_format)
    path = pathlib.Path(path)
    size = path.stat().st_size
    size_ratio = size / reference_size if reference_size else None
    weights_ratio = None
    extra_ops = ()
    try:
        if artifact_format.runtime is Runtime.LITERT:
            content = path.read_bytes()
            extra_ops = non_builtin_ops(content)
            if reference_weight_bytes:
                weights_ratio = weight_bytes(content) / reference_weight_bytes
            runner = LiteRTRunner(path, num_threads=num_threads)
        else:
            runner = OnnxRunner(path, num_threads=num_threads)
        outputs = runner.predict(x)
        latency = measure_latency(
            runner.single_call(x[:1]), latency_runs, latency_warmup
        )
    except ImportError:
        raise  # A missing runtime is a set-up problem, not a failed artifact.
    except Exception as error:  # Any runtime failure fails the artifact.
        report = failed_report(artifact_format, error, thresholds, path)
        return dataclasses.replace(
            report,
            size_bytes=size,
            size_ratio=size_ratio,
            weights_ratio=weights_ratio,
            non_builtin_ops=extra_ops,
        )
    parity = compare_outputs(reference_outputs, outputs, labels)
    return ArtifactReport(
        format=artifact_format.name,
        path=str(path),
        size_bytes=size,
        size_ratio=size_ratio,
        weights_ratio=weights_ratio,
        input_dtype=runner.input_dtype,
        output_dtype=runner.output_dtype,
        non_builtin_ops=extra_ops,
        parity=parity,
        latency=latency,
        thresholds=thresholds,
        failed_checks=_checks(
            artifact_format,
            thresholds,
            parity,
            (size_ratio, weights_ratio),
            extra_ops,
        ),
    )
