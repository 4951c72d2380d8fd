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

from kd_toolkit import data
from kd_toolkit import pretrained
from kd_toolkit.data.image_folder import check_image_size
from kd_toolkit.distiller import Distiller
from kd_toolkit.distiller import ShardedTeacherCache
from kd_toolkit.distiller import teacher_cache
from kd_toolkit.distiller.jit import auto_jit_compile
from kd_toolkit.distiller.resume import BackupAndRestore
from kd_toolkit.distiller.teacher_dtype import TEACHER_DTYPES
from kd_toolkit.recipes import methods
from kd_toolkit.recipes import model_spec
from kd_toolkit.recipes import training
from kd_toolkit.recipes.run_data import RunData
from kd_toolkit.utils import validation
from kd_toolkit.utils.atomic_io import atomic_save_model
from kd_toolkit.utils.atomic_io import atomic_write_text


@dataclasses.dataclass
class DistillConfig:
    """Settings of one distillation run (the command-line flags).

    Attributes:
        dataset: dataset name (`kd_toolkit.data.names()`); None: a folder
            of images (`data_dir`), or Fashion-MNIST without one.
        teacher: the teacher to train when no teacher file is given: a zoo
            name (`kd_toolkit.models.names()`) or a `keras.applications`
            name (see `student`).
        teacher_width: optional `base_width` of a ResNet teacher.
        teacher_path: `.keras` file; loaded if it exists, else the trained
            teacher is saved there (a cache across runs).
        teacher_epochs: epochs to train the teacher when not cached.
        pretrained_teacher: name of a shipped teacher
            (`kd_toolkit.pretrained.names()`) to distil from instead of
            training one; None trains (or loads `teacher_path`).
        retrain_teacher: train the teacher afresh even if `teacher_path`
            exists or `pretrained_teacher` is set.
        cache_draws: teacher-output cache: run the frozen teacher once over
            this many augmented views of each training image and train
            from its stored outputs (0: run the teacher every step). For
            the methods that train from the cache (`Method.teacher_cache`:
            the logit methods, RKD, SP, PKT and CRD with the pooled
            embedding stored too, and AMA from the cache); the others run
            the teacher live.
        cache_top_k: folder runs (the sharded cache): keep the k largest
            teacher logits per view (and the rest's log-sum-exp); None
            keeps all.
        cache_workers: folder runs: processes building the sharded cache.
        cache_teacher_dtype: folder runs: the teacher's dtype for the
            cache build, "auto" (bfloat16 on a CPU with native bfloat16),
            "float32" or "bfloat16".
        jit_compile: XLA for every model trained (`"auto"`: see
            `Distiller.compile`).
        student: the student: a zoo name, a `.keras` file, or a
            `keras.applications` name (`MobileNetV3Small`), built with
            random weights, the data's input shape and class count and
            logits out (`kd_toolkit.recipes.model_spec`).
        student_width: optional `base_width` of a ResNet student.
        student_kwargs: dict of extra arguments of the student's
            constructor (e.g. `{"alpha": 0.5}`).
        teacher_kwargs: the same for the teacher.
        method: distillation method (`kd_toolkit.recipes.methods.names()`).
        temperature: KD temperature.
        kd_weight: weight `α` of the KD term; the hard-label term gets
            `1 − α`.
        epochs: student epochs (same for the baseline and the distilled run).
        batch_size: batch size.
        learning_rate: peak Adam learning rate (cosine decay to zero).
        train_limit: use only the first N training images (None: all).
        test_limit: evaluate on the first N test images (None: all).
        baseline: also train the student alone, for comparison.
        teacher_only: train (or load) and evaluate the teacher, then stop.
        seed: random seed of the student initialisation and data order.
        resume: back up each training stage (teacher, student alone,
            distiller) in `out_dir/backup/` and, when run again with the
            same settings after an interruption, go on from the last backup
            (`kd_toolkit.callbacks.BackupAndRestore`); finished stages are
            not run again.
        backup_steps: with `resume`, back up every N training steps (0:
            at the end of each epoch). The distiller resumes exactly after
            the last backed-up step; the teacher and the student alone
            restart the interrupted epoch from the backed-up weights.
        out_dir: where the student, teacher cache and reports go.
        data_dir: with `dataset`, that dataset's directory override;
            without, a folder of images, one subfolder per class
            (`kd_toolkit.data.ImageFolder`).
        val_dir: a folder like `data_dir` to evaluate on; None holds out
            every 10th image of `data_dir`.
        unlabeled_dir: a folder of unlabeled images the distiller also
            trains on (label-free distillation: the distillation terms
            only); the student alone trains on the labeled images.
        image_size: `(H, W)` the folder images are resized to; None: the
            first image's size.
        verbose: Keras progress verbosity ("auto", 0, 1 or 2).
    """

    dataset: str = None
    teacher: str = "resnet20"
    teacher_width: int = None
    teacher_path: str = None
    teacher_epochs: int = 8
    pretrained_teacher: str = None
    retrain_teacher: bool = False
    cache_draws: int = 0
    cache_top_k: int = None
    cache_workers: int = 1
    cache_teacher_dtype: str = "auto"
    jit_compile: object = "auto"
    student: str = "resnet8"
    student_width: int = 8
    student_kwargs: dict = None
    teacher_kwargs: dict = None
    method: str = "kd"
    # Picked on a validation split for the resnet8 students of our
    # benchmark (benchmarks/results/tune_kd_search.md): τ = 4 hurt them.
    temperature: float = 1.0
    kd_weight: float = 0.5
    epochs: int = 8
    batch_size: int = 128
    learning_rate: float = 2e-3
    train_limit: int = None
    test_limit: int = None
    baseline: bool = True
    teacher_only: bool = False
    seed: int = 0
    resume: bool = False
    backup_steps: int = 0
    out_dir: str = "runs/distill"
    data_dir: str = None
    val_dir: str = None
    unlabeled_dir: str = None
    image_size: tuple = None
    verbose: object = "auto"


def method_settings(cfg):
    """The `MethodSettings` of a run's config: `temperature` is the
    temperature of KD and of DKD."""
    return methods.MethodSettings(
        temperature=cfg.temperature,
        kd_weight=cfg.kd_weight,
        dkd_temperature=cfg.temperature,
    )


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
        if entry.get("config") == _baseline_config(cfg):
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
            json.dumps({"config": _baseline_config(cfg), "result": result}),
            overwrite=True,
        )
    return result


def _baseline_config(cfg):
    """The settings the student-alone result depends on."""
    keys = (
        "dataset",
        "student",
        "student_width",
        "epochs",
        "batch_size",
        "learning_rate",
        "train_limit",
        "test_limit",
        "seed",
        "cache_draws",
        "data_dir",
        "val_dir",
        "image_size",
        "student_kwargs",
    )
    return {k: getattr(cfg, k) for k in keys}


def check_config(cfg):
    """Checks every setting before any data is read or model trained.

    Returns:
        The run's `Method`.

    Raises:
        ValueError, TypeError: naming the first bad setting and its value,
            with the valid names where there is a closed set.
    """
    method = methods.get(cfg.method)  # raises with the valid names
    validation.check_number("kd_weight", cfg.kd_weight, low=0, high=1)
    if cfg.pretrained_teacher is not None:
        validation.check_choice(
            "pretrained_teacher", cfg.pretrained_teacher, pretrained.names()
        )
    if cfg.teacher_path is not None and not str(cfg.teacher_path).endswith(
        ".keras"
    ):
        raise ValueError(
            "`teacher_path` must be a `.keras` file (loaded if it exists, "
            f"else the trained teacher is saved there). Received: "
            f"teacher_path={cfg.teacher_path!r}"
        )
    if cfg.dataset is not None:
        data.dataset_info(cfg.dataset)  # raises with the valid names
    for role in ("teacher", "student"):
        model_spec.check_spec(getattr(cfg, role), role)
        validation.check_int(
            f"{role}_width", getattr(cfg, f"{role}_width"), 1, allow_none=True
        )
    if cfg.image_size is not None:
        check_image_size(cfg.image_size)
    # With a named dataset, a missing data_dir gets that dataset's own
    # message (how to get it).
    folders = ("val_dir", "unlabeled_dir")
    for name in folders + (("data_dir",) if cfg.dataset is None else ()):
        folder = getattr(cfg, name)
        if folder is not None and not os.path.isdir(folder):
            raise FileNotFoundError(
                f"`{name}` must be an existing folder. Received: "
                f"{name}={folder!r}"
            )
    for name in ("epochs", "teacher_epochs", "batch_size"):
        validation.check_int(name, getattr(cfg, name), 1)
    for name in ("train_limit", "test_limit"):
        validation.check_int(name, getattr(cfg, name), 1, allow_none=True)
    for name in ("cache_draws", "backup_steps", "seed"):
        validation.check_int(name, getattr(cfg, name), 0)
    validation.check_int("cache_top_k", cfg.cache_top_k, 1, allow_none=True)
    validation.check_int("cache_workers", cfg.cache_workers, 1)
    validation.check_choice(
        "cache_teacher_dtype", cfg.cache_teacher_dtype, TEACHER_DTYPES
    )
    validation.check_positive("learning_rate", cfg.learning_rate)
    validation.check_positive("temperature", cfg.temperature)
    return method


def run_distillation(cfg):
    """Runs the whole recipe and returns the report as a dict.

    Raises:
        ValueError: on an unknown dataset, architecture, method or shipped
            teacher name, or a bad setting.
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
