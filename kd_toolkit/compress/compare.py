"""Compress a distilled student several ways and measure every artifact."""

import dataclasses
import gzip
import os
import pathlib

from absl import logging

from kd_toolkit.compress import compression_methods as methods_lib
from kd_toolkit.compress.compression_report import REPORT_JSON
from kd_toolkit.compress.compression_report import REPORT_MARKDOWN
from kd_toolkit.compress.compression_report import CompressionReport
from kd_toolkit.compress.compression_report import CompressionRow
from kd_toolkit.compress.fine_tuning import PRUNE_FINE_TUNING
from kd_toolkit.compress.fine_tuning import QAT_FINE_TUNING
from kd_toolkit.compress.fine_tuning import check_fine_tuning
from kd_toolkit.compress.pruning import prune
from kd_toolkit.compress.qat import export_qat_tflite
from kd_toolkit.compress.qat import quantize_aware_train
from kd_toolkit.compress.sparsity import sparsity_report
from kd_toolkit.export import Conversion
from kd_toolkit.export import KerasRunner
from kd_toolkit.export import Timing
from kd_toolkit.export import default_thresholds
from kd_toolkit.export import export_and_verify
from kd_toolkit.export import resolve_size_basis
from kd_toolkit.export import verify_artifact
from kd_toolkit.export.tflite_inspect import weight_bytes
from kd_toolkit.export.verified_export import FAILED_SUFFIX
from kd_toolkit.utils import validation
from kd_toolkit.utils.atomic_io import atomic_save_model
from kd_toolkit.utils.atomic_io import check_output_path

QAT_MAX_ACCURACY_DROP = 0.3


def compress_and_compare(
    student,
    teacher,
    out_dir,
    *,
    dataset="fashion_mnist",
    methods=methods_lib.DEFAULT_METHODS,
    fine_tuning=None,
    qat_fine_tuning=None,
    batch_size=128,
    train_limit=None,
    eval_limit=None,
    augment=True,
    representative_samples=200,
    latency_runs=200,
    num_threads=1,
    size_basis="auto",
    seed=0,
    overwrite=False,
    command=None,
):
    """Prunes / quantizes a student and measures each LiteRT artifact.

    Every row is measured from its `.tflite` file in the LiteRT interpreter
    on the dataset's test split: top-1 accuracy, size (raw and gzip -9),
    median single-image latency. Rows: `float` (the student as float32
    TFLite), `prune<NN>` (pruned to NN% with KD fine-tuning, rebuilt in
    Keras 3, float32 TFLite: gzip shows the sparsity), `qat` (QAT with KD,
    full-integer int8 TFLite) and `ptq_int8` (post-training full-integer
    int8 of the float student). Artifacts go to `out_dir/<method>/`, the
    pruned Keras 3 students to `out_dir/<method>/<name>_<method>.keras`, the
    report to `out_dir/compression_report.{md,json}`.

    Args:
        student: Keras 3 functional student (distilled).
        teacher: Keras 3 teacher guiding the fine-tuning, or None.
        out_dir: str or `os.PathLike`. Output directory (created).
        dataset: str. A `kd_toolkit.data` name. Defaults to
            `"fashion_mnist"`.
        methods: str or sequence. See `parse_methods`. Defaults to
            `"prune50,prune80,qat,ptq_int8"`.
        fine_tuning: `FineTuning` or None: the pruning fine-tuning. None
            means `PRUNE_FINE_TUNING` (2 epochs at 1e-3, cosine, Adam, τ 4).
        qat_fine_tuning: `FineTuning` or None: QAT's. None means
            `fine_tuning` at QAT's learning rate, 1e-4.
        batch_size: int >= 1. Defaults to `128`.
        train_limit: int or None. Fine-tune on the first N training images.
        eval_limit: int or None. Evaluate on the first N test images.
        augment: bool. Augment the fine-tuning batches. Defaults to `True`.
        representative_samples: int >= 1. Calibration images for int8.
        latency_runs: int >= 1. Timed single-image runs per artifact.
        num_threads: int >= 1. LiteRT threads. Defaults to `1`.
        size_basis: str. `"file"` (the design's bound: int8 file ≤ 0.30×
            the float32 file), `"weights"` (the bound on the stored weights
            only, for students so small that the flatbuffer's fixed
            overhead dominates) or `"auto"` (default: `"weights"` under
            100k parameters, else `"file"`); see
            `kd_toolkit.export.resolve_size_basis`.
        seed: int >= 0. Shuffle/augmentation seed. Defaults to `0`.
        overwrite: bool. Replace existing artifacts and reports.
        command: str or None. Recorded in the report.

    Returns:
        `CompressionReport` (also saved to `out_dir`).

    Raises:
        ValueError: for unknown methods or bad arguments.
        FileExistsError: if an output exists and `overwrite` is False.

    Example:

    ```python
    report = compress_and_compare(student, teacher, "runs/compress",
                                  methods="prune50,qat,ptq_int8")
    print(report.to_markdown())
    ```

    Size: the stage's steps in order (checks, data, float export, one row per
    method, report); to split next: the per-method rows into a loop over
    CompressionMethod.
    """
    from kd_toolkit import data

    parsed = methods_lib.parse_methods(methods)
    tuning = check_fine_tuning(fine_tuning, PRUNE_FINE_TUNING)
    qat_tuning = check_fine_tuning(
        qat_fine_tuning,
        tuning.replace(learning_rate=QAT_FINE_TUNING.learning_rate),
        "qat_fine_tuning",
    )
    for name, value in (
        ("batch_size", batch_size),
        ("representative_samples", representative_samples),
        ("latency_runs", latency_runs),
        ("num_threads", num_threads),
    ):
        validation.check_int(name, value, 1)
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_outputs(out_dir, student.name, parsed, overwrite)
    x, y = data.load_numpy(dataset, "test", limit=eval_limit)
    train = data.load(
        dataset,
        "train",
        batch_size,
        limit=train_limit,
        augment=augment,
        shuffle=True,
        seed=seed,
    )
    calibration = data.representative_dataset(dataset, representative_samples)
    size_basis = resolve_size_basis(size_basis, student)[0].value
    common = {
        "eval_data": (x, y),
        "representative_data": calibration,
        "conversion": Conversion(representative_samples=representative_samples),
        # The compression report has no latency table: skip measuring one.
        "timing": Timing(
            runs=latency_runs, num_threads=num_threads, table_threads=()
        ),
        "overwrite": overwrite,
        "write_report": False,
        "size_basis": size_basis,
    }
    kinds = {m.kind for m in parsed}
    formats = ["tflite_float32"] + (
        ["tflite_int8"] if methods_lib.PTQ_INT8 in kinds else []
    )
    logging.info("Exporting the float student (%s).", ", ".join(formats))
    base = export_and_verify(
        student, formats, out_dir / "float", basename=student.name, **common
    )
    student_zeros = sparsity_report(student).zero_fraction
    rows = {"float": _row("float", base.artifacts[0], student_zeros)}
    if len(base.artifacts) > 1:
        rows[methods_lib.PTQ_INT8] = _row(
            methods_lib.PTQ_INT8, base.artifacts[1], student_zeros
        )
    float_path = base.artifacts[0].path
    for method in parsed:
        if method.kind == methods_lib.PRUNE:
            logging.info("Pruning to %.0f%%.", method.sparsity * 100)
            rows[method.name] = _pruned_row(
                method,
                student,
                teacher,
                train,
                tuning,
                out_dir,
                common,
            )
        elif method.kind == methods_lib.QAT:
            logging.info("Quantization-aware training.")
            rows[method.name] = _qat_row(
                student,
                teacher,
                train,
                qat_tuning,
                out_dir,
                x,
                y,
                calibration,
                float_path,
                common,
            )
    order = ["float"] + [m.name for m in parsed]
    report = CompressionReport(
        student=student.name,
        dataset=dataset,
        num_eval_samples=len(x),
        settings={
            "batch_size": batch_size,
            "train_limit": train_limit,
            "augment": augment,
            "teacher": None if teacher is None else teacher.name,
            "size_basis": size_basis,
            **dataclasses.asdict(tuning),
            **{
                f"qat_{k}": v for k, v in dataclasses.asdict(qat_tuning).items()
            },
        },
        rows=tuple(rows[name] for name in order),
        command=command,
    )
    report.save(out_dir, overwrite)
    return report


def _check_outputs(out_dir, name, parsed, overwrite):
    """Fails before any training if an output exists (no overwrite)."""
    if overwrite:
        return
    paths = [
        out_dir / REPORT_MARKDOWN,
        out_dir / REPORT_JSON,
        out_dir / "float" / f"{name}_tflite_float32.tflite",
    ]
    for method in parsed:
        if method.kind == methods_lib.PRUNE:
            stem = out_dir / method.name / f"{name}_{method.name}"
            paths += [
                stem.with_suffix(".keras"),
                stem.parent / f"{stem.name}_tflite_float32.tflite",
            ]
        elif method.kind == methods_lib.QAT:
            qat = out_dir / "qat" / f"{name}_qat_int8.tflite"
            paths += [qat, qat.with_name(qat.name + FAILED_SUFFIX)]
        else:
            paths.append(out_dir / "float" / f"{name}_tflite_int8.tflite")
    for path in paths:
        if path.parent.is_dir():
            check_output_path(path, overwrite)


def gzipped_size(path):
    """Size in bytes of the file compressed with gzip at level 9."""
    return len(gzip.compress(pathlib.Path(path).read_bytes(), compresslevel=9))


def _pruned_row(method, student, teacher, train, tuning, out_dir, common):
    result = prune(
        student,
        teacher,
        train,
        target_sparsity=method.sparsity,
        fine_tuning=tuning,
    )
    target = out_dir / method.name
    target.mkdir(exist_ok=True)
    atomic_save_model(
        result.model,
        target / f"{student.name}_{method.name}.keras",
        common["overwrite"],
    )
    report = export_and_verify(
        result.model,
        "tflite_float32",
        target,
        basename=f"{student.name}_{method.name}",
        **common,
    )
    details = {
        "schedule": dataclasses.asdict(result.schedule),
        "history": result.history.to_dict(),
        "keras_accuracy": report.keras_accuracy,
        "pruned_kernels_zero_fraction": result.sparsity.zero_fraction,
        "pruned_kernels": sorted(result.sparsity.weights),
    }
    return _row(
        method.name,
        report.artifacts[0],
        sparsity_report(result.model).zero_fraction,
        details,
    )


def _qat_row(
    student,
    teacher,
    train,
    tuning,
    out_dir,
    x,
    y,
    calibration,
    float_path,
    common,
):
    result = quantize_aware_train(student, teacher, train, tuning)
    target = out_dir / "qat"
    target.mkdir(exist_ok=True)
    path = export_qat_tflite(
        result.model,
        target / f"{student.name}_qat_int8.tflite",
        calibration,
        representative_samples=common["conversion"].representative_samples,
        overwrite=common["overwrite"],
    )
    reference = KerasRunner(student).predict(x)
    float32 = pathlib.Path(float_path).read_bytes()
    artifact = verify_artifact(
        "tflite_int8",
        path,
        reference,
        x,
        labels=y,
        thresholds=default_thresholds(
            "tflite_int8", common["size_basis"]
        ).replace(max_accuracy_drop=QAT_MAX_ACCURACY_DROP),
        reference_size=len(float32),
        latency_runs=common["timing"].runs,
        num_threads=common["timing"].num_threads,
        reference_weight_bytes=weight_bytes(float32),
    )
    if not artifact.passed:  # as export_and_verify does: keep it, aside.
        failed = path.with_name(path.name + FAILED_SUFFIX)
        os.replace(path, failed)
        artifact = dataclasses.replace(artifact, path=str(failed))
    details = {
        "history": result.history.to_dict(),
        "output_quantized_layers": list(result.output_quantized_layers),
    }
    return _row("qat", artifact, None, details)


def _row(method, artifact, zero_fraction, details=None):
    exists = artifact.path is not None and os.path.exists(artifact.path)
    return CompressionRow(
        method=method,
        artifact=artifact.format,
        accuracy=None if artifact.parity is None else artifact.parity.accuracy,
        size_bytes=artifact.size_bytes,
        gzip_bytes=gzipped_size(artifact.path) if exists else None,
        zero_fraction=zero_fraction,
        latency_ms=None
        if artifact.latency is None
        else artifact.latency.median_ms,
        path=artifact.path,
        passed=artifact.passed,
        notes="; ".join(artifact.failed_checks),
        details=details or {},
    )
