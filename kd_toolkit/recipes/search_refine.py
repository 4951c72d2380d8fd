"""Refinement of the student search's winner with the compression stage:
pruning or quantization-aware training (tensorflow-model-optimization),
exported, verified and measured as the candidates are, and ranked with
them in the same table."""

import pathlib
import shutil
import time

import keras

from kd_toolkit.compress import compression_methods as compress_methods

# The compression stage's defaults (`kd-compress`), at the search's epochs.
from kd_toolkit.compress.fine_tuning import PRUNE_FINE_TUNING
from kd_toolkit.compress.fine_tuning import QAT_FINE_TUNING
from kd_toolkit.recipes.search_run import export_student
from kd_toolkit.recipes.search_run import finished
from kd_toolkit.recipes.search_run import save_record
from kd_toolkit.recipes.search_space import FULL_INTEGER_FORMATS
from kd_toolkit.recipes.search_space import file_stem
from kd_toolkit.utils.atomic_io import atomic_save_model

REFINE_CHOICES = "qat, prune<NN> (NN = target sparsity in percent, 1-99)"


def check_refine(refine, budget):
    """Parses `refine` (`"qat"`, `"prune50,qat"`, a sequence, or None).

    Returns:
        tuple of `kd_toolkit.compress.CompressionMethod` (empty for None).

    Raises:
        ValueError: on an unknown name, `ptq_int8` (every candidate is
            already exported post-training), or `qat` for a budget whose
            format is not full-integer.
    """
    if refine is None or len(refine) == 0:
        return ()
    try:
        parsed = compress_methods.parse_methods(refine)
    except ValueError as error:
        raise ValueError(
            f"`refine` must name some of {REFINE_CHOICES}. "
            f"Received: refine={refine!r} ({error})"
        ) from None
    for method in parsed:
        if method.kind == compress_methods.PTQ_INT8:
            raise ValueError(
                f"`refine` takes {REFINE_CHOICES}: every candidate is "
                "already exported post-training in the budget's format. "
                f"Received: refine={refine!r}"
            )
        if (
            method.kind == compress_methods.QAT
            and budget.format not in FULL_INTEGER_FORMATS
        ):
            raise ValueError(
                "`refine='qat'` makes a full-integer artifact, one of "
                f"{list(FULL_INTEGER_FORMATS)}; the budget's format is "
                f"{budget.format!r}. Received: refine={refine!r}"
            )
    return parsed


def refined_name(winner_name, method):
    return f"{winner_name}+{method.name}"


def refine_winner(run, winner, refinements, folder, *, epochs, verbose):
    """Fine-tunes the winner by each refinement, distilling the teacher.

    Args:
        run: the search's `SearchRun`.
        winner: the winner's record (its folder holds `student.keras`).
        refinements: from `check_refine`.
        folder: `pathlib.Path`, the search's candidates folder: one result
            file `<winner>+<method>.json` per refinement (skipped on a
            rerun with the same settings), artifacts in a folder of the
            same name.
        epochs: int >= 1. Fine-tuning epochs.
        verbose: bool. One line per refinement.

    Returns:
        list of records, one per refinement, with `refined_from` (the
        winner's name) and `refinement` (the method's name). A pruned
        record's `keras_accuracy` is the pruned Keras model's; a QAT
        record's is the float winner's, the model its int8 artifact is
        verified against (with the compression stage's accuracy bound,
        `QAT_MAX_ACCURACY_DROP` points).
    """
    from kd_toolkit.recipes import search_report

    student = None
    records = []
    for method in refinements:
        name = refined_name(winner["name"], method)
        stem = file_stem(name)
        path = folder / f"{stem}.json"
        key = dict(
            run.key,
            refined_from=winner["name"],
            refinement=method.name,
            refine_epochs=epochs,
        )
        record = finished(path, key)
        if record is None:
            if student is None:
                student = keras.saving.load_model(
                    folder / _stem_of(winner) / "student.keras"
                )
            record = _refine(
                run, student, winner, method, folder / stem, epochs
            )
            record = save_record(path, record, key)
            line = search_report.one_line(record)
        else:
            line = f"{name}: finished, skipped"
        if verbose:
            print(f"[kd_toolkit] search: {line}")
        records.append(record)
    return records


def _stem_of(record):
    return pathlib.Path(record["artifact"]).parent.name


def _refine(run, student, winner, method, target, epochs):
    keras.utils.set_random_seed(run.seed)
    if target.exists():
        shutil.rmtree(target)  # a killed run's artifacts
    target.mkdir(parents=True)
    data = run.batches(with_teacher_outputs=False)
    fmt = run.budget.format
    start = time.perf_counter()
    if method.kind == compress_methods.PRUNE:
        from kd_toolkit.compress.pruning import prune

        result = prune(
            student,
            run.teacher,
            data,
            target_sparsity=method.sparsity,
            fine_tuning=PRUNE_FINE_TUNING.replace(
                epochs=epochs, steps_per_epoch=run.steps_per_epoch
            ),
        )
        model = reference = result.model
        prebuilt = None
        extra = {"zero_fraction": result.sparsity.zero_fraction}
        atomic_save_model(model, target / "student.keras", overwrite=True)
    else:
        from kd_toolkit.compress.qat import qat_to_tflite
        from kd_toolkit.compress.qat import quantize_aware_train

        result = quantize_aware_train(
            student,
            run.teacher,
            data,
            QAT_FINE_TUNING.replace(
                epochs=epochs, steps_per_epoch=run.steps_per_epoch
            ),
        )
        model, reference, extra = student, result.model, {}
        prebuilt = {fmt: qat_to_tflite(result.model, run.representative())}
    record = {
        "name": refined_name(winner["name"], method),
        "params": winner["params"],
        "keras_accuracy": run.accuracy(reference),
        "train_seconds": time.perf_counter() - start,
        "refined_from": winner["name"],
        "refinement": method.name,
        **extra,
    }
    record.update(export_student(run, model, target, prebuilt, reference))
    return record
