"""The settings of one distillation run (the `kd-train` flags), and their
checks before any data is read or model trained."""

import dataclasses
import os

from kd_toolkit import data
from kd_toolkit import pretrained
from kd_toolkit.data.image_folder import check_image_size
from kd_toolkit.distiller.teacher_dtype import TEACHER_DTYPES
from kd_toolkit.recipes import methods
from kd_toolkit.recipes import model_spec
from kd_toolkit.utils import validation


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


def baseline_config(cfg):
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
