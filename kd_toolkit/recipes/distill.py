"""Train (or load) a teacher, distil a student, evaluate, save, report."""

import dataclasses
import datetime
import json
import os
import platform
import re
import sys
import time

import keras
import tensorflow as tf

from kd_toolkit import pretrained
from kd_toolkit.distiller import Distiller
from kd_toolkit.distiller import ShardedTeacherCache
from kd_toolkit.distiller import teacher_cache
from kd_toolkit.distiller.jit import auto_jit_compile
from kd_toolkit.distiller.resume import BackupAndRestore
from kd_toolkit.recipes import methods
from kd_toolkit.recipes import model_spec
from kd_toolkit.recipes import training

# Re-exported: `recipes.distill.DistillConfig` is where it was first.
from kd_toolkit.recipes.distill_config import DistillConfig  # noqa: F401
from kd_toolkit.recipes.distill_config import baseline_config
from kd_toolkit.recipes.distill_config import check_config
from kd_toolkit.recipes.distill_config import method_settings
from kd_toolkit.recipes.run_data import RunData
from kd_toolkit.utils.atomic_io import atomic_save_model
from kd_toolkit.utils.atomic_io import atomic_write_text


def _build(cfg, role, info, seed):
    return model_spec.build(
        getattr(cfg, role),
        info.input_shape,
        info.num_classes,
        width=getattr(cfg, f"{role}_width"),
        kwargs=getattr(cfg, f"{role}_kwargs"),
        seed=seed,
        role=role,
    )


def _optimizer(cfg, steps):
    return training.cosine_adam(cfg.learning_rate, steps)


def _accuracy(model, test_ds):
    return training.evaluate(model, test_ds)[0]


def _timed_fit(cfg, model, train_ds, epochs, stage):
    """Fits `model`; returns `(history, seconds per epoch run)`. With
    `cfg.resume`, backs up to (and resumes from) `out_dir/backup/stage`."""
    callbacks = []
    if cfg.resume:
        callbacks.append(
            BackupAndRestore(
                os.path.join(cfg.out_dir, "backup", stage),
                save_freq=cfg.backup_steps or "epoch",
            )
        )
        epoch, batches = callbacks[0].resume_point()
        if epoch or batches:
            print(
                f"[kd_toolkit] resuming {stage} from its backup: epoch "
                f"{epoch + 1}, {batches} steps done",
                flush=True,
            )
    start = time.perf_counter()
    # The pipeline shuffles itself; Keras cannot shuffle a tf.data source.
    history = model.fit(
        train_ds,
        epochs=epochs,
        verbose=cfg.verbose,
        shuffle=False,
        callbacks=callbacks,
    )
    ran = len(history.epoch)
    return history, (time.perf_counter() - start) / max(ran, 1)


def _jit(cfg, model):
    if cfg.jit_compile != "auto":
        return bool(cfg.jit_compile)
    return auto_jit_compile(model)


def train_teacher(cfg, run, steps):
    """Loads the shipped or cached teacher, or trains it with CE and caches it.

    Returns:
        `(teacher, seconds per epoch or None when loaded, path, record)`;
        `record` is the shipped teacher's provenance (None otherwise).
    """
    if cfg.pretrained_teacher and not cfg.retrain_teacher:
        path = pretrained.path(cfg.pretrained_teacher)
        print(
            f"[kd_toolkit] loading the shipped teacher "
            f"'{cfg.pretrained_teacher}'",
            flush=True,
        )
        return (
            pretrained.load(cfg.pretrained_teacher),
            None,
            str(path),
            pretrained.info(cfg.pretrained_teacher),
        )
    path = cfg.teacher_path or os.path.join(cfg.out_dir, "teacher.keras")
    if os.path.exists(path) and not cfg.retrain_teacher:
        print(f"[kd_toolkit] loading cached teacher from {path}", flush=True)
        return keras.models.load_model(path), None, path, None
    print(
        f"[kd_toolkit] training teacher {cfg.teacher} for "
        f"{cfg.teacher_epochs} epochs",
        flush=True,
    )
    teacher = _build(cfg, "teacher", run.info, cfg.seed + 1000)
    teacher.compile(
        _optimizer(cfg, steps * cfg.teacher_epochs),
        training.hard_label_loss(),
        metrics=["accuracy"],
        jit_compile=_jit(cfg, teacher),
    )
    _, seconds = _timed_fit(
        cfg, teacher, _train_data(cfg, run), cfg.teacher_epochs, "teacher"
    )
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_save_model(teacher, path, overwrite=True)
    return teacher, seconds, path, None


def _train_data(cfg, run, unlabeled=False):
    """A freshly built training pipeline. Each stage gets its own: a
    seeded pipeline draws new orders and views on each pass, so a shared
    one would give each stage different data (and break both the pairing
    of the two students and an exact resume). `unlabeled`: the unlabeled
    images join the labeled ones (the distiller's data)."""
    _seed_pipelines(cfg)
    return run.train(cfg.seed, unlabeled=unlabeled)


def _seed_pipelines(cfg):
    """`tf.data` combines a pipeline's seed with TensorFlow's global seed
    at the time it is built: fix that one too, so the data depends on
    `cfg.seed` alone, not on which stages ran before in this process."""
    keras.utils.set_random_seed(cfg.seed)


def _student_data(cfg, run, teacher, teacher_path):
    """Training data of the students: `(distiller_ds, alone_ds, cache)`.

    With `cache_draws > 0` and a method that trains from the cache, both
    students replay the same cached views in the same order (a paired
    comparison) and the distiller reads the teacher's logits (and the
    features the method names, e.g. the pooled embedding) from the cache;
    otherwise both use the live augmentation pipeline, again with the same
    order and views.
    """
    live = (_train_data(cfg, run, unlabeled=True), _train_data(cfg, run), None)
    if cfg.cache_draws <= 0:
        return live
    method = methods.get(cfg.method)
    if not method.teacher_cache:
        print(
            f"[kd_toolkit] method '{cfg.method}' reads teacher activation "
            "maps: the teacher runs live (the cache holds logits and small "
            "features such as the pooled embedding)",
            flush=True,
        )
        return live
    where = (
        os.path.join(cfg.out_dir, "teacher.keras")
        if cfg.pretrained_teacher and not cfg.retrain_teacher
        else teacher_path
    )
    tag = re.sub(r"[^A-Za-z0-9_.-]+", "_", run.info.name).strip("_")
    if run.folders and not method.cached_features:
        return _sharded_student_data(cfg, run, teacher, where, tag)
    x, y = run.train_arrays(unlabeled=True)
    features = "".join(f"-{n}" for n in method.cached_features)
    path = teacher_cache.default_path(
        where, f"{tag}-train{len(y)}-d{cfg.cache_draws}{features}"
    )
    start = time.perf_counter()
    cache = teacher_cache.TeacherLogitsCache.get_or_build(
        path,
        teacher,
        x,
        augment=run.augment,
        draws=cfg.cache_draws,
        feature_layers=method.cached_features,
        rebuild=True,
    )
    seconds = time.perf_counter() - start
    args = dict(batch_size=cfg.batch_size, seed=cfg.seed)
    _seed_pipelines(cfg)
    distill_ds = cache.dataset(x, y, **args)
    _seed_pipelines(cfg)
    # With unlabeled images in the cache the student alone cannot replay
    # it: it trains on the labeled images, live.
    alone_ds = (
        cache.dataset(x, y, with_teacher_outputs=False, **args)
        if not run.info.num_unlabeled
        else _train_data(cfg, run)
    )
    return (
        distill_ds,
        alone_ds,
        {"path": str(path), "draws": cfg.cache_draws, "seconds": seconds},
    )


def _sharded_student_data(cfg, run, teacher, where, tag):
    """`_student_data` for folders: the teacher's logits in a sharded
    store beside the teacher (`ShardedTeacherCache`), the images streamed
    from the folders, never all in memory. The student alone trains on
    the labeled images, live (same augmentation, not the cached views)."""
    source = run.cache_source()
    directory = teacher_cache.default_path(
        where, f"{tag}-train{source.num_examples}-d{cfg.cache_draws}"
    ).with_suffix(".shards")
    start = time.perf_counter()
    cache = ShardedTeacherCache.get_or_build(
        directory,
        teacher,
        source,
        augment=run.augment,
        draws=cfg.cache_draws,
        top_k=cfg.cache_top_k,
        teacher_dtype=cfg.cache_teacher_dtype,
        num_workers=cfg.cache_workers,
        rebuild=True,
    )
    seconds = time.perf_counter() - start
    _seed_pipelines(cfg)
    distill_ds = cache.dataset(source, cfg.batch_size, seed=cfg.seed)
    return (
        distill_ds,
        _train_data(cfg, run),
        {
            "path": str(directory),
            "draws": cfg.cache_draws,
            "seconds": seconds,
            "sharded": True,
        },
    )


def _student_alone(cfg, info, steps, alone_ds, test_ds):
    """Trains the student alone; returns its report entry. With `resume`,
    the entry is kept in `out_dir` and a finished baseline is not rerun."""
    done = os.path.join(cfg.out_dir, "student_alone.json")
    if cfg.resume and os.path.exists(done):
        with open(done) as f:
            entry = json.load(f)
        if entry.get("config") == baseline_config(cfg):
            print(
                "[kd_toolkit] student alone: reusing the finished run in "
                f"{done}",
                flush=True,
            )
            return entry["result"]
    print(f"[kd_toolkit] training student {cfg.student} alone", flush=True)
    alone = _build(cfg, "student", info, cfg.seed)
    alone.compile(
        _optimizer(cfg, steps * cfg.epochs),
        training.hard_label_loss(),
        metrics=["accuracy"],
        jit_compile=_jit(cfg, alone),
    )
    _, seconds = _timed_fit(cfg, alone, alone_ds, cfg.epochs, "alone")
    result = {
        "params": alone.count_params(),
        "epochs": cfg.epochs,
        "seconds_per_epoch": seconds,
        "test_accuracy": _accuracy(alone, test_ds),
    }
    if cfg.resume:
        atomic_write_text(
            done,
            json.dumps({"config": baseline_config(cfg), "result": result}),
            overwrite=True,
        )
    return result


def run_distillation(cfg):
    """Runs the whole recipe and returns the report as a dict.

    Raises:
        ValueError: on an unknown dataset, architecture, method or shipped
            teacher name, or a bad setting.

    Size: the recipe's steps in order (teacher, data, baseline, distiller, fit,
    evaluation, files, report), each a call.
    """
    method = check_config(cfg)
    run = RunData(cfg)
    info = run.info
    test_ds = run.test()
    n_train, n_test = info.num_train, info.num_test
    steps = -(-n_train // cfg.batch_size)
    distill_steps = -(-run.num_distill_train // cfg.batch_size)
    os.makedirs(cfg.out_dir, exist_ok=True)

    teacher, teacher_seconds, teacher_path, record = train_teacher(
        cfg, run, steps
    )
    report = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
        "command": "python -m kd_toolkit.train " + " ".join(sys.argv[1:]),
        "config": dataclasses.asdict(cfg),
        "data": info.name,
        "class_names": list(info.class_names),
        "train_images": n_train,
        "unlabeled_images": info.num_unlabeled,
        "test_images": n_test,
        "student_arch": cfg.student
        + (f" (width {cfg.student_width})" if cfg.student_width else ""),
        "teacher": {
            "arch": record["arch"] if record else cfg.teacher,
            "path": teacher_path,
            "params": teacher.count_params(),
            "epochs": None if teacher_seconds is None else cfg.teacher_epochs,
            "seconds_per_epoch": teacher_seconds,
            "test_accuracy": _accuracy(teacher, test_ds),
        },
    }
    if record:
        report["teacher"]["shipped"] = record
    print(
        f"[kd_toolkit] teacher test accuracy "
        f"{report['teacher']['test_accuracy']:.4f}",
        flush=True,
    )
    if cfg.teacher_only:
        return report

    distill_ds, alone_ds, cache = _student_data(cfg, run, teacher, teacher_path)
    if cache:
        report["teacher_cache"] = cache
    if cfg.baseline:
        report["student_alone"] = _student_alone(
            cfg, info, steps, alone_ds, test_ds
        )

    print(
        f"[kd_toolkit] distilling student {cfg.student} with "
        f"{cfg.method}" + (" from the teacher-output cache" if cache else ""),
        flush=True,
    )
    student = _build(cfg, "student", info, cfg.seed)
    plan = method.plan(
        method_settings(cfg),
        teacher,
        student,
        train_ds=_train_data(cfg, run) if method.warms_up else None,
        total_steps=distill_steps * cfg.epochs,
    )
    if plan.info:
        report["method_info"] = plan.info
    distiller = Distiller(
        plan.teacher or teacher,
        student,
        losses=plan.losses,
        student_loss_weight=1.0 - cfg.kd_weight,
    )
    distiller.compile(
        _optimizer(cfg, distill_steps * cfg.epochs),
        metrics=["accuracy"],
        jit_compile=_jit(cfg, distiller),
    )
    history, seconds = _timed_fit(
        cfg, distiller, distill_ds, cfg.epochs, "distiller"
    )
    student_path = os.path.join(cfg.out_dir, "student.keras")
    atomic_save_model(student, student_path, overwrite=True)
    report["distilled"] = {
        "xla": distiller.jit_compile,
        "params": student.count_params(),
        "epochs": cfg.epochs,
        "seconds_per_epoch": seconds,
        "test_accuracy": _accuracy(student, test_ds),
        "final_logs": {k: float(v[-1]) for k, v in history.history.items()},
        "path": student_path,
    }
    return report
