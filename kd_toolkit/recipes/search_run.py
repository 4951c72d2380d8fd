"""One student search's settings, and the export and measurement every
student of it gets (`kd_toolkit.recipes.student_search`)."""

import dataclasses
import json
import time

import numpy as np

from kd_toolkit.export.export_options import ExtraChecks
from kd_toolkit.export.export_options import Timing
from kd_toolkit.export.model_card import write_model_card
from kd_toolkit.export.verified_export import export_and_verify
from kd_toolkit.recipes.search_space import FULL_INTEGER_FORMATS
from kd_toolkit.utils.atomic_io import atomic_write_text


@dataclasses.dataclass(frozen=True)
class SearchRun:
    """What every candidate of one search shares.

    Args:
        teacher: the Keras teacher.
        cache: the `ShardedTeacherCache` of its outputs on `source`.
        source: the training `IndexedSource`.
        val: `(x, y)` float32 validation images and labels.
        budget: the `Budget`.
        method: the `kd_toolkit.recipes.methods` entry distilling.
        settings: its `MethodSettings`.
        epochs, batch_size, learning_rate, seed: the training schedule.
        thresholds: the verification's thresholds (see `search_students`).
        class_names: list of str or None, for the model cards.
        key: dict. Everything a result file depends on: a file with
            another key is stale and rerun.
    """

    teacher: object
    cache: object
    source: object
    val: tuple
    budget: object
    method: object
    settings: object
    epochs: int
    batch_size: int
    learning_rate: float
    seed: int
    thresholds: object
    class_names: list | None
    key: dict

    @property
    def steps_per_epoch(self):
        return -(-self.source.num_examples // self.batch_size)

    @property
    def num_classes(self):
        return int(self.teacher.outputs[0].shape[-1])

    def batches(self, with_teacher_outputs=True):
        """The cache's training batches, in the search's order."""
        return self.cache.dataset(
            self.source,
            self.batch_size,
            seed=self.seed,
            with_teacher_outputs=with_teacher_outputs,
        )

    def representative(self):
        """Calibration images: the first 200 training examples."""
        sample = min(200, self.source.num_examples)
        return np.stack([self.source.example(i).numpy() for i in range(sample)])

    def accuracy(self, model):
        """`model`'s validation top-1, percent."""
        x, y = self.val
        logits = model.predict(x, batch_size=256, verbose=0)
        return float(np.mean(np.argmax(logits, -1) == y) * 100)


def finished(path, key):
    """The record in `path` when it was made with these settings."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if record.get("key") == key else None


def save_record(path, record, key):
    """Writes `record` (with `key`) to `path`, atomically."""
    record = dict(record, key=key)
    atomic_write_text(path, json.dumps(record, indent=1), overwrite=True)
    return record


def export_student(run, student, folder, prebuilt=None, reference_model=None):
    """Exports `student` in the budget's format into `folder`, verifies
    and measures it as the budget asks; writes the model card of a
    passing artifact.

    Args:
        run: `SearchRun`.
        student: the Keras model (the reference of the verification).
        folder: `pathlib.Path`, created by the caller.
        prebuilt, reference_model: see `export_and_verify` (a QAT model's
            artifact, and the QAT model).

    Returns:
        dict: the record's export fields.
    """
    budget = run.budget
    start = time.perf_counter()
    report = export_and_verify(
        student,
        [budget.format],
        folder,
        eval_data=run.val,
        representative_data=run.representative(),
        basename="student",
        overwrite=True,
        timing=Timing(
            num_threads=budget.threads, table_threads=(budget.threads,)
        ),
        thresholds=run.thresholds,
        # Cheap for a full-integer artifact, so always measured: a rerun
        # under another budget re-ranks the same records.
        checks=ExtraChecks(
            microcontroller=budget.format in FULL_INTEGER_FORMATS,
            edge_tpu=budget.format in FULL_INTEGER_FORMATS,
        ),
        prebuilt=prebuilt,
        reference_model=reference_model,
    )
    (artifact,) = [a for a in report.artifacts if a.format == budget.format]
    out = {
        "export_seconds": time.perf_counter() - start,
        "passed": artifact.passed,
        # The error in full, not its one-word check line.
        "failed_checks": [
            c for c in artifact.failed_checks if not c.startswith("error:")
        ]
        + ([artifact.error] if artifact.error else []),
        "artifact": artifact.path,
        "flash_bytes": artifact.size_bytes,
        "accuracy": None
        if artifact.parity is None
        else artifact.parity.accuracy,
        "latency_ms": None,
        "arena_bytes": None,
        "arena_measured": None,
        "edge_tpu_ready": None,
        "edge_tpu_problem": None,
    }
    for row in report.latency_table:
        if (
            row.artifact == budget.format
            and row.threads == budget.threads
            and row.delegate == budget.delegate
        ):
            out["latency_ms"] = row.median_ms
    deployment = report.deployment
    for fit in deployment.micro if deployment else ():
        if fit.artifact == budget.format:
            out["arena_bytes"] = fit.arena_bytes
            out["arena_measured"] = fit.measured
    if deployment is not None and deployment.edge_tpu is not None:
        out["edge_tpu_ready"] = deployment.edge_tpu.ready
        problems = deployment.edge_tpu.problems
        out["edge_tpu_problem"] = problems[0] if problems else None
    if artifact.passed:
        names = run.class_names
        write_model_card(
            report,
            folder,
            class_names=None if names is None else list(names),
            overwrite=True,
        )
    return out
