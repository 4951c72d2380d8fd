"""Export a Keras model to several artifacts and verify each one."""

import dataclasses
import os
import pathlib

from kd_toolkit.export import export_inputs
from kd_toolkit.export.artifact_format import FLOAT32_REFERENCE
from kd_toolkit.export.artifact_format import Runtime
from kd_toolkit.export.artifact_format import parse_formats
from kd_toolkit.export.deployment import deployment_checks
from kd_toolkit.export.export_options import Conversion
from kd_toolkit.export.export_options import ExtraChecks
from kd_toolkit.export.export_options import Timing
from kd_toolkit.export.export_options import check_option
from kd_toolkit.export.export_report import REPORT_JSON
from kd_toolkit.export.export_report import REPORT_MARKDOWN
from kd_toolkit.export.export_report import ExportReport
from kd_toolkit.export.latency import measure_latency
from kd_toolkit.export.latency_table import (
    latency_table as measure_latency_table,
)
from kd_toolkit.export.onnx_export import convert_to_onnx
from kd_toolkit.export.parity import top1_accuracy
from kd_toolkit.export.representative import model_input_shape
from kd_toolkit.export.runners import KerasRunner
from kd_toolkit.export.tflite_export import convert_to_tflite
from kd_toolkit.export.tflite_inspect import weight_bytes
from kd_toolkit.export.thresholds import SizeBasis
from kd_toolkit.export.thresholds import resolve_size_basis
from kd_toolkit.export.verification import failed_report
from kd_toolkit.export.verification import verify_artifact
from kd_toolkit.utils.atomic_io import atomic_write_bytes
from kd_toolkit.utils.atomic_io import check_output_path
from kd_toolkit.utils.validation import check_positive_int

FAILED_SUFFIX = ".failed"


def _convert(model, fmt, samples, conversion):
    if fmt.runtime is Runtime.ONNXRUNTIME:
        return convert_to_onnx(model, conversion.opset)
    return convert_to_tflite(
        model,
        fmt.quantization,
        samples,
        len(samples) if samples is not None else 1,
        conversion.allow_select_tf_ops,
    )


def _write_and_verify(fmt, path, content, data, thresholds, float32, timing):
    """Verifies an artifact before it takes its deployable name.

    The bytes are written atomically to a hidden `.unverified` file and run
    from there. A passing artifact is then renamed to `path`; a failing one
    to `path.failed`, and an older file at `path` (from a previous run,
    replaced because `overwrite=True`) is removed so that no stale artifact
    keeps the deployable name. Interrupted, the candidate is removed.
    """
    reference, x, y = data
    candidate = path.with_name(f".{path.name}.unverified")
    atomic_write_bytes(candidate, content, overwrite=True)
    try:
        report = verify_artifact(
            fmt,
            candidate,
            reference,
            x,
            y,
            thresholds,
            None if float32 is None else len(float32),
            timing.runs,
            timing.warmup,
            timing.num_threads,
            None if float32 is None else weight_bytes(float32),
        )
    except BaseException:
        candidate.unlink(missing_ok=True)
        raise
    if report.passed:
        os.replace(candidate, path)
        return dataclasses.replace(report, path=str(path))
    failed_path = path.with_name(path.name + FAILED_SUFFIX)
    os.replace(candidate, failed_path)
    path.unlink(missing_ok=True)
    return dataclasses.replace(report, path=str(failed_path))


def _try_convert(model, fmt, samples, conversion):
    """Returns the artifact bytes, or the exception that stopped them."""
    try:
        return _convert(model, fmt, samples, conversion)
    except ImportError:
        raise  # A missing converter is a set-up problem: say so at once.
    except Exception as error:  # Recorded as a failed artifact.
        return error


def export_and_verify(
    model,
    formats,
    out_dir,
    *,
    dataset=None,
    eval_data=None,
    eval_limit=None,
    representative_data=None,
    thresholds=None,
    size_basis=SizeBasis.AUTO,
    basename=None,
    overwrite=False,
    conversion=None,
    timing=None,
    checks=None,
    write_report=True,
    prebuilt=None,
    reference_model=None,
):
    """Exports `model` to every format, runs each artifact and checks it.

    Each artifact is converted in memory, written atomically, loaded from
    that file in its runtime (LiteRT interpreter or onnxruntime) and
    compared with the Keras outputs on the evaluation data. Only an artifact
    that passes every check gets its deployable name
    `out_dir/<basename>_<format><suffix>`; one that fails a check is kept as
    `<file>.failed` for inspection, and one that cannot be converted is
    reported with its error.

    Args:
        model: `keras.Model` with one input, e.g. `distiller.student`.
        formats: str like `"tflite_float32,onnx"` or a sequence of names /
            `ArtifactFormat`s; names from `format_names()`.
        out_dir: str or `os.PathLike`. Output directory (created if absent).
        dataset: str or None. A `kd_toolkit.data` name: evaluation uses its
            test split, calibration its training split, unless `eval_data` /
            `representative_data` are given.
        eval_data: `(x, y)` arrays or None. Evaluation inputs and labels
            (`y` may be None: accuracy checks then fail as unmeasurable).
        eval_limit: int or None. Use only the first `eval_limit` samples.
        representative_data: calibration data for the int8 formats (see
            `collect_representative_samples`), or None to draw
            `conversion.representative_samples` images from `dataset`'s
            training split.
        thresholds: mapping of format name to `AcceptanceThresholds`, or
            None; missing formats use `default_thresholds(format,
            size_basis)`.
        size_basis: `SizeBasis` or `"auto"` / `"file"` / `"weights"`:
            whether the default size bounds apply to the file or to the
            weight payload (for small students, whose fixed file overhead
            dominates). `"auto"` (default) picks `"weights"` under
            `SMALL_MODEL_PARAMS` (100k) parameters, `"file"` above; the
            report says which and why.
        basename: str or None. File stem; defaults to the model's name.
        overwrite: bool. Replace existing artifacts and reports. Defaults
            to `False`.
        conversion: `Conversion` or None (its defaults): calibration
            samples, select TF ops, ONNX opset.
        timing: `Timing` or None (its defaults): timed and warm-up runs,
            threads of the checks, thread counts of the latency table.
        checks: `ExtraChecks` or None (none): microcontroller arena
            and flash, per-layer int8 error, Edge TPU
            (`ExtraChecks.all()` for all three).
        write_report: bool. Write `export_report.md` and `.json` to
            `out_dir`. Defaults to `True`.
        prebuilt: mapping of format name to artifact bytes made elsewhere
            (e.g. the int8 file of a quantization-aware-trained copy of
            `model`, `kd_toolkit.compress.qat_to_tflite`), or None. Each is
            written, verified and measured as a converted one is, instead
            of converting `model`.
        reference_model: a model or None (`model`): the one whose outputs,
            accuracy and latency the artifacts are checked against, when
            it is not the one converted: the fake-quantized `tf_keras`
            model of `quantize_aware_train`, whose int8 file comes in
            `prebuilt` (`model`, its float original, then only sizes the
            float32 reference).

    Returns:
        `ExportReport` (`.passed`, `.to_markdown()`, `.to_json()`).

    Raises:
        ValueError: for unknown formats, no evaluation data, int8 formats
            without calibration data, or `thresholds` for formats not
            exported.
        FileExistsError: if an output exists and `overwrite` is False
            (checked before any conversion).
        IsADirectoryError: if an output path is a directory.

    Example:

    ```python
    report = kd_toolkit.export.export_and_verify(
        distiller.student, "tflite_float32,tflite_int8,onnx", "artifacts",
        dataset="fashion_mnist")
    print(report.to_markdown())
    assert report.passed, report.failed
    ```

    Size: the export's steps in order (checks before any write, data,
    reference, one verified artifact per format, table, checks, report).
    """
    formats = parse_formats(formats)
    check_positive_int("eval_limit", eval_limit, allow_none=True)
    conversion = check_option(conversion, Conversion, "conversion")
    timing = check_option(timing, Timing, "timing")
    checks = check_option(checks, ExtraChecks, "checks")
    shape = model_input_shape(model)
    basename = basename or model.name
    out_dir = pathlib.Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(
            "`out_dir` must be a directory. Received: "
            f"out_dir={str(out_dir)!r} (an existing file)"
        )
    export_inputs.check_format_keys("thresholds", thresholds, formats)
    prebuilt = export_inputs.check_prebuilt(formats, prebuilt)
    size_basis, basis_reason = resolve_size_basis(size_basis, model)
    per_format = {
        f.name: export_inputs.thresholds_for(f, thresholds, size_basis)
        for f in formats
    }
    paths = {f.name: out_dir / f.filename(basename) for f in formats}
    outputs = list(paths.values())
    if write_report:
        outputs += [out_dir / REPORT_MARKDOWN, out_dir / REPORT_JSON]
    if out_dir.is_dir():
        for path in outputs:
            check_output_path(path, overwrite)

    x, y = export_inputs.load_eval_data(dataset, eval_data, eval_limit)
    export_inputs.check_eval_shape(x, shape, dataset)
    samples = export_inputs.representative(
        formats,
        dataset,
        representative_data,
        conversion.representative_samples,
        shape,
    )
    # Only now, with every argument and input checked, create `out_dir`.
    out_dir.mkdir(parents=True, exist_ok=True)
    keras_runner = KerasRunner(
        model if reference_model is None else reference_model
    )
    reference = keras_runner.predict(x)
    keras_latency = measure_latency(
        keras_runner.single_call(x[:1]), timing.runs, timing.warmup
    )
    converted = {
        FLOAT32_REFERENCE.name: _try_convert(
            model, FLOAT32_REFERENCE, None, conversion
        )
    }
    float32_tflite = converted[FLOAT32_REFERENCE.name]
    if not isinstance(float32_tflite, bytes):
        float32_tflite = None
    artifacts = []
    for fmt in formats:
        path = paths[fmt.name]
        content = (
            prebuilt.get(fmt.name)
            or converted.pop(fmt.name, None)
            or _try_convert(model, fmt, samples, conversion)
        )
        if not isinstance(content, bytes):
            artifacts.append(failed_report(fmt, content, per_format[fmt.name]))
            continue
        artifacts.append(
            _write_and_verify(
                fmt,
                path,
                content,
                (reference, x, y),
                per_format[fmt.name],
                float32_tflite,
                timing,
            )
        )
    table = ()
    if timing.table_threads:
        table = measure_latency_table(
            {a.format: a.path for a in artifacts if a.passed},
            x[:1],
            timing.table_threads,
            timing.runs,
            timing.warmup,
        )
    deployment = deployment_checks(
        artifacts,
        float32_tflite,
        x,
        microcontroller=checks.microcontroller,
        per_layer_error=checks.per_layer_error,
        edge_tpu=checks.edge_tpu,
    )
    report = ExportReport(
        model_name=model.name,
        dataset=dataset,
        num_eval_samples=len(x),
        keras_accuracy=None if y is None else top1_accuracy(reference, y),
        keras_latency=keras_latency,
        num_threads=timing.num_threads,
        artifacts=tuple(artifacts),
        latency_table=table,
        deployment=deployment,
        size_basis=f"{size_basis.value} ({basis_reason})",
    )
    if write_report:
        report.save(out_dir, overwrite)
    return report
