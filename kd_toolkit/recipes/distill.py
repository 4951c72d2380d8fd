"""Train (or load) a teacher, distil a student, evaluate, save, report."""

import dataclasses
import datetime
import os
import platform
import sys
import time

import keras
import tensorflow as tf

from kd_toolkit import data
from kd_toolkit import losses
from kd_toolkit import models
from kd_toolkit.distiller import Distiller
from kd_toolkit.utils.atomic_io import atomic_save_model


@dataclasses.dataclass
class DistillConfig:
    """Settings of one distillation run (the command-line flags).

    Attributes:
        dataset: dataset name (`kd_toolkit.data.names()`).
        teacher: zoo name of the teacher (`kd_toolkit.models.names()`).
        teacher_width: optional `base_width` of a ResNet teacher.
        teacher_path: `.keras` file; loaded if it exists, else the trained
            teacher is saved there (a cache across runs).
        teacher_epochs: epochs to train the teacher when not cached.
        student: zoo name of the student.
        student_width: optional `base_width` of a ResNet student.
        method: distillation method, one of `METHODS`.
        temperature: KD temperature.
        kd_weight: weight `α` of the KD term; the hard-label term gets
            `1 − α`.
        epochs: student epochs (same for the baseline and the distilled run).
        batch_size: batch size.
        learning_rate: peak Adam learning rate (cosine decay to zero).
        train_limit: use only the first N training images (None: all).
        test_limit: evaluate on the first N test images (None: all).
        baseline: also train the student alone, for comparison.
        seed: random seed of the student initialisation and data order.
        out_dir: where the student, teacher cache and reports go.
        data_dir: optional dataset directory override.
        verbose: Keras progress verbosity ("auto", 0, 1 or 2).
    """

    dataset: str = "fashion_mnist"
    teacher: str = "resnet20"
    teacher_width: int = None
    teacher_path: str = None
    teacher_epochs: int = 8
    student: str = "resnet8"
    student_width: int = 8
    method: str = "kd"
    temperature: float = 4.0
    kd_weight: float = 0.9
    epochs: int = 8
    batch_size: int = 128
    learning_rate: float = 2e-3
    train_limit: int = None
    test_limit: int = None
    baseline: bool = True
    seed: int = 0
    out_dir: str = "runs/distill"
    data_dir: str = None
    verbose: object = "auto"


def _kd(cfg, teacher, student):
    del teacher, student
    return [losses.KD(cfg.temperature, weight=cfg.kd_weight)]


def common_stages(teacher, student):
    """`stage{i}_out` names present in both models, in order.

    Raises:
        ValueError: if the models share no stage output name.
    """
    student_stages = set(models.stage_output_names(student))
    common = [n for n in models.stage_output_names(teacher)
              if n in student_stages]
    if not common:
        raise ValueError(
            "Feature methods need `stage{i}_out` layers in both models. "
            f"Received: teacher stages {models.stage_output_names(teacher)}, "
            f"student stages {sorted(student_stages)}")
    return common


def _fitnets(cfg, teacher, student):
    # FitNets hints at the middle of the network.
    stages = common_stages(teacher, student)
    middle = stages[(len(stages) - 1) // 2]
    return _kd(cfg, teacher, student) + [losses.Hint(middle, middle)]


def _attention(cfg, teacher, student):
    pairs = [(n, n) for n in common_stages(teacher, student)]
    return _kd(cfg, teacher, student) + [losses.AttentionTransfer(pairs)]


# method name -> function(config, teacher, student) -> list of losses.
METHODS = {"kd": _kd, "fitnets": _fitnets, "at": _attention}


def method_losses(method, cfg, teacher, student):
    """Returns the distillation losses of a named method.

    Raises:
        ValueError: listing the valid methods when `method` is unknown.
    """
    if method not in METHODS:
        raise ValueError(
            f"Unknown method. Expected one of {sorted(METHODS)}. "
            f"Received: method={method!r}")
    return METHODS[method](cfg, teacher, student)


def _build(arch, width, info, seed):
    keras.utils.set_random_seed(seed)
    kwargs = {} if width is None else {"base_width": width}
    return models.get(arch, input_shape=info.input_shape,
                      num_classes=info.num_classes, **kwargs)


def _optimizer(cfg, steps):
    schedule = keras.optimizers.schedules.CosineDecay(
        cfg.learning_rate, decay_steps=max(1, steps))
    return keras.optimizers.Adam(schedule)


def _accuracy(model, test_ds):
    correct = total = 0
    for x, y in test_ds:
        pred = tf.argmax(model(x, training=False), axis=-1, output_type="int32")
        correct += int(tf.reduce_sum(tf.cast(pred == tf.cast(y, "int32"),
                                             "int32")))
        total += int(tf.shape(y)[0])
    return correct / max(total, 1)


def _timed_fit(model, train_ds, epochs, verbose):
    start = time.perf_counter()
    # The pipeline shuffles itself; Keras cannot shuffle a tf.data source.
    history = model.fit(train_ds, epochs=epochs, verbose=verbose,
                        shuffle=False)
    return history, (time.perf_counter() - start) / max(epochs, 1)


def train_teacher(cfg, info, train_ds, steps):
    """Loads the cached teacher, or trains it with CE and caches it."""
    path = cfg.teacher_path or os.path.join(cfg.out_dir, "teacher.keras")
    if os.path.exists(path):
        print(f"[kd_toolkit] loading cached teacher from {path}", flush=True)
        return keras.models.load_model(path), None, path
    print(f"[kd_toolkit] training teacher {cfg.teacher} for "
          f"{cfg.teacher_epochs} epochs", flush=True)
    teacher = _build(cfg.teacher, cfg.teacher_width, info, cfg.seed + 1000)
    teacher.compile(_optimizer(cfg, steps * cfg.teacher_epochs),
                    keras.losses.SparseCategoricalCrossentropy(
                        from_logits=True), metrics=["accuracy"])
    _, seconds = _timed_fit(teacher, train_ds, cfg.teacher_epochs,
                            cfg.verbose)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_save_model(teacher, path)
    return teacher, seconds, path


def run_distillation(cfg):
    """Runs the whole recipe and returns the report as a dict.

    Raises:
        ValueError: on an unknown dataset, architecture or method.
    """
    if cfg.method not in METHODS:
        method_losses(cfg.method, cfg, None, None)  # raises with choices
    if not 0.0 <= cfg.kd_weight <= 1.0:
        raise ValueError(
            f"`kd_weight` must be in [0, 1]. Received: kd_weight="
            f"{cfg.kd_weight}")
    info = data.dataset_info(cfg.dataset)
    load = dict(batch_size=cfg.batch_size, data_dir=cfg.data_dir,
                seed=cfg.seed)
    train_ds = data.load(cfg.dataset, "train", limit=cfg.train_limit, **load)
    test_ds = data.load(cfg.dataset, "test", limit=cfg.test_limit, **load)
    n_train = cfg.train_limit or info.num_train
    n_test = cfg.test_limit or info.num_test
    steps = -(-n_train // cfg.batch_size)
    os.makedirs(cfg.out_dir, exist_ok=True)

    teacher, teacher_seconds, teacher_path = train_teacher(
        cfg, info, train_ds, steps)
    report = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "versions": {"tensorflow": tf.__version__,
                     "keras": keras.__version__},
        "command": "python -m kd_toolkit.train " + " ".join(sys.argv[1:]),
        "config": dataclasses.asdict(cfg),
        "train_images": n_train, "test_images": n_test,
        "student_arch": cfg.student + (f" (width {cfg.student_width})"
                                       if cfg.student_width else ""),
        "teacher": {"arch": cfg.teacher, "path": teacher_path,
                    "params": teacher.count_params(),
                    "epochs": None if teacher_seconds is None
                    else cfg.teacher_epochs,
                    "seconds_per_epoch": teacher_seconds,
                    "test_accuracy": _accuracy(teacher, test_ds)},
    }
    print(f"[kd_toolkit] teacher test accuracy "
          f"{report['teacher']['test_accuracy']:.4f}", flush=True)

    if cfg.baseline:
        print(f"[kd_toolkit] training student {cfg.student} alone",
              flush=True)
        alone = _build(cfg.student, cfg.student_width, info, cfg.seed)
        alone.compile(_optimizer(cfg, steps * cfg.epochs),
                      keras.losses.SparseCategoricalCrossentropy(
                          from_logits=True), metrics=["accuracy"])
        _, seconds = _timed_fit(alone, train_ds, cfg.epochs, cfg.verbose)
        report["student_alone"] = {
            "params": alone.count_params(), "epochs": cfg.epochs,
            "seconds_per_epoch": seconds,
            "test_accuracy": _accuracy(alone, test_ds)}

    print(f"[kd_toolkit] distilling student {cfg.student} with "
          f"{cfg.method}", flush=True)
    student = _build(cfg.student, cfg.student_width, info, cfg.seed)
    distiller = Distiller(
        teacher, student,
        losses=method_losses(cfg.method, cfg, teacher, student),
        student_loss_weight=1.0 - cfg.kd_weight)
    distiller.compile(_optimizer(cfg, steps * cfg.epochs),
                      metrics=["accuracy"])
    history, seconds = _timed_fit(distiller, train_ds, cfg.epochs,
                                  cfg.verbose)
    student_path = os.path.join(cfg.out_dir, "student.keras")
    atomic_save_model(student, student_path, overwrite=True)
    report["distilled"] = {
        "params": student.count_params(), "epochs": cfg.epochs,
        "seconds_per_epoch": seconds,
        "test_accuracy": _accuracy(student, test_ds),
        "final_logs": {k: float(v[-1]) for k, v in history.history.items()},
        "path": student_path}
    return report
