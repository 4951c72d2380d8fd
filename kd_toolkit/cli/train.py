"""Command line: train or load a teacher, distil a student, report.

Example (the `make demo` run):

```
python -m kd_toolkit.train --dataset=fashion_mnist --teacher=resnet20 \
    --student=resnet8 --student_width=8 --method=kd --epochs=8 \
    --out_dir=runs/demo
```

Writes `student.keras`, `teacher.keras` (a cache reused by later runs),
`report.json` and `report.md` into `--out_dir` and prints the table.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import flags

from kd_toolkit.cli.errors import exits_cleanly_on_user_error
from kd_toolkit.cli.errors import run_main
from kd_toolkit.distiller.teacher_dtype import TEACHER_DTYPES
from kd_toolkit.recipes import distill
from kd_toolkit.recipes import distill_report as report_lib
from kd_toolkit.recipes import methods
from kd_toolkit.recipes import model_spec

_D = distill.DistillConfig()
FLAGS = flags.FLAGS
flags.DEFINE_string(
    "dataset",
    _D.dataset,
    "kd_toolkit.data name (default: fashion_mnist, or a folder of images "
    "with --data_dir).",
)
flags.DEFINE_string(
    "teacher",
    _D.teacher,
    "Teacher to train when no teacher file is given: a zoo name or a "
    "keras.applications name.",
)
flags.DEFINE_string(
    "teacher_kwargs",
    None,
    "Extra teacher constructor arguments, key=value,... (e.g. alpha=0.5).",
)
flags.DEFINE_integer(
    "teacher_width",
    None,
    "base_width of the teacher.",
    lower_bound=1,
)
flags.DEFINE_string(
    "teacher_path",
    None,
    "Teacher .keras cache (default: <out_dir>/teacher.keras).",
)
flags.DEFINE_integer(
    "teacher_epochs",
    _D.teacher_epochs,
    "Teacher epochs.",
    lower_bound=1,
)
flags.DEFINE_string(
    "pretrained_teacher",
    None,
    "Distil from a shipped teacher (kd_toolkit.pretrained."
    "names(), e.g. fashion_mnist_resnet20) instead of "
    "training one.",
)
flags.DEFINE_bool(
    "retrain_teacher",
    False,
    "Train the teacher afresh even if a shipped or cached one exists.",
)
flags.DEFINE_integer(
    "cache_draws",
    _D.cache_draws,
    "Teacher-output cache: augmented views per training "
    "image whose teacher outputs are computed once (0: run "
    "the teacher every step). For the methods that train from the cache "
    f"({', '.join(n for n in methods.names() if methods.get(n).teacher_cache)}"
    "); the others run the teacher live.",
    lower_bound=0,
)
flags.DEFINE_integer(
    "cache_top_k",
    0,
    "Folder runs (--data_dir, the sharded cache): keep the k largest "
    "teacher logits per view and the log-sum-exp of the rest (0: all).",
    lower_bound=0,
)
flags.DEFINE_integer(
    "cache_workers",
    _D.cache_workers,
    "Folder runs: processes that build the sharded cache, each on its "
    "share of the cores.",
    lower_bound=1,
)
flags.DEFINE_enum(
    "cache_teacher_dtype",
    _D.cache_teacher_dtype,
    list(TEACHER_DTYPES),
    "Folder runs: the teacher's dtype for the cache build (auto: "
    "bfloat16 on a CPU that computes it natively; part of the cache key).",
)
flags.DEFINE_enum(
    "jit_compile",
    "auto",
    ["auto", "true", "false"],
    "XLA compilation of the training steps.",
)
flags.DEFINE_string(
    "student",
    _D.student,
    "Student: a zoo name (kd_toolkit.models.names()), a .keras file, or a "
    "keras.applications name (random weights, logits out).",
)
flags.DEFINE_string(
    "student_kwargs",
    None,
    "Extra student constructor arguments, key=value,... (e.g. "
    "alpha=0.5,minimalistic=True).",
)
flags.DEFINE_integer(
    "student_width",
    _D.student_width,
    "base_width of the student (0: the zoo default).",
    lower_bound=0,
)
flags.DEFINE_string(
    "method", _D.method, f"Distillation method, one of {list(methods.names())}."
)
flags.DEFINE_float(
    "temperature",
    _D.temperature,
    "KD temperature.",
    lower_bound=0,
)
flags.DEFINE_float(
    "kd_weight",
    _D.kd_weight,
    "Weight of the KD term; hard labels get 1 - kd_weight.",
    lower_bound=0,
    upper_bound=1,
)
flags.DEFINE_integer(
    "epochs",
    _D.epochs,
    "Student epochs.",
    lower_bound=1,
)
flags.DEFINE_integer(
    "batch_size",
    _D.batch_size,
    "Batch size.",
    lower_bound=1,
)
flags.DEFINE_float(
    "learning_rate",
    _D.learning_rate,
    "Peak Adam LR.",
    lower_bound=0,
)
flags.DEFINE_integer(
    "train_limit",
    None,
    "Use the first N train images.",
    lower_bound=1,
)
flags.DEFINE_integer(
    "test_limit",
    None,
    "Use the first N test images.",
    lower_bound=1,
)
flags.DEFINE_bool("baseline", True, "Also train the student alone.")
flags.DEFINE_bool(
    "teacher_only",
    False,
    "Train (or load) and evaluate the teacher, then stop.",
)
flags.DEFINE_integer(
    "seed",
    0,
    "Random seed.",
    lower_bound=0,
)
flags.DEFINE_bool(
    "resume",
    False,
    "Back up each training stage in out_dir/backup and, run "
    "again with the same flags after an interruption, go on "
    "from the last backup.",
)
flags.DEFINE_integer(
    "backup_steps",
    0,
    "With --resume: back up every N steps (0: every epoch).",
    lower_bound=0,
)
flags.DEFINE_string("out_dir", _D.out_dir, "Output directory.")
flags.DEFINE_string(
    "data_dir",
    None,
    "With --dataset: that dataset's directory. Without: a folder of "
    "JPEG/PNG images, one subfolder per class.",
)
flags.DEFINE_string(
    "val_dir",
    None,
    "Folder of images to evaluate on, like --data_dir (default: every "
    "10th image of --data_dir, held out).",
)
flags.DEFINE_string(
    "unlabeled_dir",
    None,
    "Folder of unlabeled images the distiller also trains on (the "
    "distillation terms only).",
)
flags.DEFINE_list(
    "image_size",
    None,
    "H,W the folder images are resized to (default: the first image's).",
)
flags.DEFINE_enum(
    "verbose", "auto", ["auto", "0", "1", "2"], "Keras progress output."
)


def config_from_flags():
    """Builds a `DistillConfig` from the parsed flags."""
    verbose = FLAGS.verbose if FLAGS.verbose == "auto" else int(FLAGS.verbose)
    return distill.DistillConfig(
        dataset=FLAGS.dataset,
        teacher=FLAGS.teacher,
        teacher_width=FLAGS.teacher_width,
        teacher_path=FLAGS.teacher_path,
        teacher_epochs=FLAGS.teacher_epochs,
        pretrained_teacher=FLAGS.pretrained_teacher,
        retrain_teacher=FLAGS.retrain_teacher,
        cache_draws=FLAGS.cache_draws,
        cache_top_k=FLAGS.cache_top_k or None,
        cache_workers=FLAGS.cache_workers,
        cache_teacher_dtype=FLAGS.cache_teacher_dtype,
        jit_compile={"auto": "auto", "true": True, "false": False}[
            FLAGS.jit_compile
        ],
        student=FLAGS.student,
        student_width=FLAGS.student_width or None,
        student_kwargs=model_spec.parse_kwargs(
            FLAGS.student_kwargs, "student_kwargs"
        ),
        teacher_kwargs=model_spec.parse_kwargs(
            FLAGS.teacher_kwargs, "teacher_kwargs"
        ),
        method=FLAGS.method,
        temperature=FLAGS.temperature,
        kd_weight=FLAGS.kd_weight,
        epochs=FLAGS.epochs,
        batch_size=FLAGS.batch_size,
        learning_rate=FLAGS.learning_rate,
        train_limit=FLAGS.train_limit,
        test_limit=FLAGS.test_limit,
        baseline=FLAGS.baseline,
        teacher_only=FLAGS.teacher_only,
        seed=FLAGS.seed,
        resume=FLAGS.resume,
        backup_steps=FLAGS.backup_steps,
        out_dir=FLAGS.out_dir,
        data_dir=FLAGS.data_dir,
        val_dir=FLAGS.val_dir,
        unlabeled_dir=FLAGS.unlabeled_dir,
        image_size=_image_size(FLAGS.image_size),
        verbose=verbose,
    )


def _image_size(values):
    """`--image_size=H,W` as `(H, W)`; a bad value names the flag."""
    if values is None:
        return None
    try:
        size = tuple(int(v) for v in values)
    except ValueError:
        size = ()
    if len(size) != 2 or min(size) < 1:
        raise ValueError(
            "`--image_size` must be H,W, two integers >= 1. Received: "
            f"--image_size={','.join(values)}"
        )
    return size


@exits_cleanly_on_user_error
def main(argv):
    del argv
    report = distill.run_distillation(config_from_flags())
    json_path, md_path = report_lib.write_report(report, FLAGS.out_dir)
    print()
    print(report_lib.to_markdown(report))
    written = (
        [report["teacher"]["path"]]
        if FLAGS.teacher_only
        else [report["distilled"]["path"]]
    )
    print(f"Wrote {', '.join(written + [json_path, md_path])}")


def run():
    """Console-script entry point (`kd-train`)."""
    run_main(main)


if __name__ == "__main__":
    run()
