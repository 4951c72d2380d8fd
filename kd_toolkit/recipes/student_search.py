"""The student for a budget: distil a family of candidates from one
teacher-output cache, export and verify each in the budget's format,
measure it on the budget's runtime settings, ship the most accurate one
that fits.

One result file per candidate (`<out_dir>/candidates/<name>.json`,
written atomically when the candidate is done), so a search stopped
midway resumes at the first unfinished candidate (a candidate is known by
its name: rename one whose builder changed); the table, the plot and
the report are rebuilt from the files (`kd_toolkit.recipes.search_report`).
"""

import dataclasses
import hashlib
import pathlib
import shutil
import time

import keras
import numpy as np

from kd_toolkit.data.array_source import ArraySource
from kd_toolkit.data.indexed_source import IndexedSource
from kd_toolkit.distiller.distiller import Distiller
from kd_toolkit.distiller.sharded_cache import ShardedTeacherCache
from kd_toolkit.recipes import methods
from kd_toolkit.recipes import search_report
from kd_toolkit.recipes import training
from kd_toolkit.recipes.search_refine import check_refine
from kd_toolkit.recipes.search_refine import refine_winner
from kd_toolkit.recipes.search_run import SearchRun
from kd_toolkit.recipes.search_run import export_student
from kd_toolkit.recipes.search_run import finished
from kd_toolkit.recipes.search_run import save_record
from kd_toolkit.recipes.search_space import Budget
from kd_toolkit.recipes.search_space import check_candidates
from kd_toolkit.utils.atomic_io import atomic_save_model
from kd_toolkit.utils.validation import check_int
from kd_toolkit.utils.validation import check_positive

CANDIDATES_DIR = "candidates"
WINNER_DIR = "winner"


@dataclasses.dataclass(frozen=True)
class SearchResult:
    """What `search_students` found.

    Attributes:
        records: one dict per candidate, in the order given (see
            `search_report.RECORD_FIELDS`).
        winner: the winner's record, or None when no candidate fits.
        report_path: the Markdown report (`search.md`).
        plot_path: the PNG (accuracy against latency).
    """

    records: tuple
    winner: dict | None
    report_path: str
    plot_path: str


def search_students(
    teacher,
    train,
    val,
    candidates=None,
    budget=None,
    *,
    method="kd",
    epochs=5,
    batch_size=128,
    learning_rate=2e-3,
    augment=None,
    draws=1,
    settings=None,
    class_names=None,
    thresholds=None,
    out_dir="student_search",
    seed=0,
    refine=None,
    refine_epochs=None,
    verbose=True,
):
    """Distils every candidate, exports and measures it, picks the best
    one within `budget`.

    The teacher's outputs are computed once, into a sharded teacher-output
    cache in `out_dir` (`ShardedTeacherCache`), and every candidate trains
    from it: each extra candidate costs its own training only. Each is
    then exported in `budget.format` and verified as `export_and_verify`
    does (a candidate whose artifact fails verification is reported as
    such and never ranked), and its latency (at `budget.threads`, with or
    without XNNPACK), flash, tensor arena and Edge TPU readiness measured.

    Args:
        teacher: a Keras logit model.
        train: training data: `(x, y)` arrays (images in [0, 1] or uint8,
            integer labels; -1 for unlabeled) or a
            `kd_toolkit.data.IndexedSource` (an `ImageFolder`, ...).
        val: `(x, y)` arrays: validation images and labels; every accuracy
            in the table is on them, and the artifacts are verified on them.
        candidates: list of `Candidate` or zoo specs
            (`"resnet8:base_width=4"`), or None for `default_ladder()`.
        budget: `Budget` or None (no bound: the most accurate candidate).
        method: a logits-only method of `kd_toolkit.recipes.methods`
            (`"kd"`, `"kd_ls"`, `"dkd"`): it trains from the cache alone.
        epochs: int >= 1. Training epochs per candidate.
        batch_size: int >= 1.
        learning_rate: float > 0. Peak of the cosine-decayed Adam.
        augment: `kd_toolkit.data.AugmentSpec` or None: the views the cache
            stores (`draws` per image).
        draws: int >= 1. Cached views per training image.
        settings: `MethodSettings` or None (the defaults of `kd-train`).
        class_names: list of str or None: for the winner's model card.
        thresholds: mapping of format name to `AcceptanceThresholds`, or
            None (`kd_toolkit.export.default_thresholds`): the checks of
            the verification.
        out_dir: str. Cache, result files, artifacts, report.
        seed: int >= 0. Seeds the cache's views, the order and the
            candidates' initial weights.
        refine: None, or compression methods for the winner: `"qat"`
            (quantization-aware training, full-integer formats only),
            `"prune<NN>"` (pruning to NN% sparsity), a comma-separated
            string or a list (`kd_toolkit.recipes.search_refine`). Each
            fine-tunes the winner from its distilled weights, distilling
            the teacher live, and is exported, verified and measured as
            the candidates are; its row (`<winner>+qat`) is ranked with
            them, so a refinement that is more accurate within budget
            becomes the winner.
        refine_epochs: int >= 1 or None (`epochs`). Fine-tuning epochs.
        verbose: bool. One line per candidate.

    Returns:
        `SearchResult`.

    Raises:
        ValueError: on an unknown method or one that needs the live
            teacher, bad candidates, budget or refinements, or data of the
            wrong shape.

    Size: the search's steps in order (checks, cache, one run per candidate,
    refinement, ranking, winner, report).
    """
    budget = Budget() if budget is None else budget
    if not isinstance(budget, Budget):
        raise TypeError(
            "`budget` must be a kd_toolkit.recipes.Budget or None. "
            f"Received: budget of type {type(budget).__name__}"
        )
    candidates = check_candidates(candidates)
    method_entry = _check_method(method)
    epochs = check_int("epochs", epochs, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    learning_rate = check_positive("learning_rate", learning_rate)
    seed = check_int("seed", seed, 0)
    settings = methods.MethodSettings() if settings is None else settings
    source = _source(train, class_names)
    x_val, y_val = _val(val, source)
    refinements = check_refine(refine, budget)
    refine_epochs = check_int(
        "refine_epochs", epochs if refine_epochs is None else refine_epochs, 1
    )
    out_dir = pathlib.Path(out_dir)
    (out_dir / CANDIDATES_DIR).mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    cache = ShardedTeacherCache.get_or_build(
        out_dir / "teacher_cache",
        teacher,
        source,
        augment=augment,
        draws=draws,
        seed=seed,
        verbose=verbose,
    )
    cache_seconds = time.perf_counter() - start
    key = {
        "teacher": cache.manifest["key"]["teacher"],
        "source": cache.manifest["key"]["source"],
        "views": [cache.manifest["key"][k] for k in ("view", "draws", "seed")],
        "val": _digest(x_val, y_val),
        "method": method,
        "settings": repr(settings),
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "format": budget.format,
        "threads": budget.threads,
        "xnnpack": budget.xnnpack,
        "thresholds": repr(thresholds),
    }
    run = SearchRun(
        teacher=teacher,
        cache=cache,
        source=source,
        val=(x_val, y_val),
        budget=budget,
        method=method_entry,
        settings=settings,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        thresholds=thresholds,
        class_names=None
        if source.class_names is None
        else list(source.class_names),
        key=key,
    )
    folder = out_dir / CANDIDATES_DIR
    records = []
    for candidate in candidates:
        path = folder / f"{candidate.file_stem}.json"
        record = finished(path, key)
        if record is not None:
            if verbose:
                print(
                    f"[kd_toolkit] search: {candidate.name}: finished, skipped"
                )
        else:
            record = _run_candidate(
                run, candidate, folder / candidate.file_stem
            )
            record = save_record(path, record, key)
            if verbose:
                print(f"[kd_toolkit] search: {search_report.one_line(record)}")
        records.append(record)

    winner = search_report.rank(records, budget)
    if winner is not None and refinements:
        records += refine_winner(
            run,
            winner,
            refinements,
            folder,
            epochs=refine_epochs,
            verbose=verbose,
        )
        winner = search_report.rank(records, budget)
    if winner is not None:
        _ship(out_dir, winner)
    report_path, plot_path = search_report.write(
        out_dir,
        records,
        budget,
        winner,
        {
            "method": method,
            "epochs": epochs,
            "train_examples": source.num_examples,
            "val_examples": len(y_val),
            "cache_seconds": cache_seconds,
        },
    )
    return SearchResult(
        tuple(records), winner, str(report_path), str(plot_path)
    )


def _check_method(name):
    valid = [n for n in methods.names() if methods.get(n).logits_only]
    if name not in valid:
        raise ValueError(
            "`method` must be a method that trains from the teacher-output "
            f"cache alone, one of {valid}. Received: method={name!r}"
        )
    return methods.get(name)


def _source(train, class_names):
    if isinstance(train, IndexedSource):
        return train
    if isinstance(train, (tuple, list)) and len(train) == 2:
        return ArraySource(train[0], train[1], class_names=class_names)
    raise TypeError(
        "`train` must be `(x, y)` arrays or a kd_toolkit.data.IndexedSource. "
        f"Received: train of type {type(train).__name__}"
    )


def _val(val, source):
    if not (isinstance(val, (tuple, list)) and len(val) == 2):
        raise TypeError(
            "`val` must be `(x, y)` arrays. Received: val of type "
            f"{type(val).__name__}"
        )
    x, y = np.asarray(val[0]), np.asarray(val[1]).reshape(-1)
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255.0
    x = x.astype(np.float32)
    if tuple(x.shape[1:]) != tuple(source.input_shape) or len(x) != len(y):
        raise ValueError(
            f"`val` must hold images of the training shape "
            f"{tuple(source.input_shape)} and one label each. Received: "
            f"images {x.shape}, {len(y)} labels"
        )
    return x, y


def _digest(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def _run_candidate(run, candidate, folder):
    """Distils `candidate` from the cache, then exports and measures it."""
    keras.utils.set_random_seed(run.seed)
    student = candidate.build(tuple(run.source.input_shape), run.num_classes)
    total = run.steps_per_epoch * run.epochs
    plan = run.method.plan(
        run.settings, run.teacher, student, total_steps=total
    )
    distiller = Distiller(
        run.teacher,
        student,
        losses=plan.losses,
        student_loss_weight=1.0 - run.settings.kd_weight,
    )
    distiller.compile(
        training.cosine_adam(run.learning_rate, total), metrics=["accuracy"]
    )
    start = time.perf_counter()
    distiller.fit(run.batches(), epochs=run.epochs, verbose=0)
    record = {
        "name": candidate.name,
        "params": int(student.count_params()),
        "keras_accuracy": run.accuracy(student),
        "train_seconds": time.perf_counter() - start,
    }
    if folder.exists():
        shutil.rmtree(folder)  # a killed run's artifacts
    folder.mkdir(parents=True)
    atomic_save_model(student, folder / "student.keras", overwrite=True)
    record.update(export_student(run, student, folder))
    return record


def _ship(out_dir, winner):
    """Copies the winner's artifact, model card and Keras model to
    `<out_dir>/winner/` (the folder replaced as a whole)."""
    src = pathlib.Path(winner["artifact"]).parent
    dst = out_dir / WINNER_DIR
    staging = out_dir / f".{WINNER_DIR}.tmp"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    for name in (
        pathlib.Path(winner["artifact"]).name,
        "model_card.json",
        "model_card.md",
        "student.keras",
        "export_report.md",
        "export_report.json",
    ):
        if (src / name).exists():
            shutil.copy2(src / name, staging / name)
    if dst.exists():
        shutil.rmtree(dst)
    staging.rename(dst)
