"""Prune and quantize a distilled student with tfmot, compare the artifacts.

Rows of the report: the float student (float32 TFLite), each pruned student
(`prune<NN>`: NN% of the conv/dense weights zeroed, fine-tuned with CE + KD
from the teacher, float32 TFLite: the gzipped size shows the sparsity),
quantization-aware training (`qat`: fine-tuned with CE + KD, full-integer
int8 TFLite) and post-training full-integer int8 (`ptq_int8`). Every
artifact is measured in the LiteRT interpreter on the test split: top-1
accuracy, size (raw and gzip -9), median single-image latency.

Writes the artifacts, the pruned Keras 3 students (`.keras`),
`compression_report.md` and `compression_report.json` to `--out_dir`, and
prints the table with the command that reproduces it. Exit status 0 when
every artifact passed its export checks, 1 otherwise, 2 on bad input.

Example:

    kd-compress --student student.keras \
        --teacher teacher.keras --dataset fashion_mnist \
        --methods prune50,prune80,qat,ptq_int8 --epochs 2 \
        --out_dir runs/compress
"""

import os
import shlex
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app
from absl import flags

from kd_toolkit.cli.errors import exits_cleanly_on_user_error
from kd_toolkit.cli.errors import run_main

FLAGS = flags.FLAGS
flags.DEFINE_string("student", None, "Path of the distilled student .keras.")
flags.DEFINE_string(
    "teacher",
    None,
    "Path of the teacher .keras guiding the fine-tuning "
    "(default: none, cross-entropy only).",
)
flags.DEFINE_string("dataset", "fashion_mnist", "kd_toolkit.data name.")
flags.DEFINE_string(
    "methods",
    "prune50,prune80,qat,ptq_int8",
    "Comma-separated: prune<NN>, qat, ptq_int8.",
)
flags.DEFINE_integer(
    "epochs",
    2,
    "Pruning fine-tuning epochs.",
    lower_bound=1,
)
flags.DEFINE_integer(
    "qat_epochs",
    None,
    "QAT epochs (default: --epochs).",
    lower_bound=1,
)
flags.DEFINE_integer(
    "batch_size",
    128,
    "Fine-tuning batch size.",
    lower_bound=1,
)
flags.DEFINE_float(
    "learning_rate",
    1e-3,
    "Initial Adam rate of the pruning fine-tuning (cosine decay to 0).",
    lower_bound=0,
)
flags.DEFINE_float(
    "qat_learning_rate",
    1e-4,
    "Initial Adam rate of QAT (cosine decay to 0).",
    lower_bound=0,
)
flags.DEFINE_float(
    "temperature",
    4.0,
    "KD temperature.",
    lower_bound=0,
)
flags.DEFINE_float(
    "ce_weight",
    1.0,
    "Weight of the hard-label CE.",
    lower_bound=0,
)
flags.DEFINE_float(
    "kd_weight",
    1.0,
    "Weight of the KD term.",
    lower_bound=0,
)
flags.DEFINE_integer(
    "train_limit",
    None,
    "Fine-tune on the first N training images.",
    lower_bound=1,
)
flags.DEFINE_integer(
    "eval_limit",
    None,
    "Evaluate on the first N test images (default: all).",
    lower_bound=1,
)
flags.DEFINE_bool("augment", True, "Augment the fine-tuning batches.")
flags.DEFINE_integer(
    "representative_samples",
    200,
    "Calibration images for int8.",
    lower_bound=1,
)
flags.DEFINE_integer(
    "latency_runs",
    200,
    "Timed single-image runs.",
    lower_bound=1,
)
flags.DEFINE_integer(
    "num_threads",
    1,
    "LiteRT threads.",
    lower_bound=1,
)
flags.DEFINE_enum(
    "size_basis",
    "auto",
    ["auto", "file", "weights"],
    "What the int8 size bound (0.30x float32) applies to: the "
    "file, or the stored weights only (tiny students); auto: weights under "
    "100k parameters, else file.",
)
flags.DEFINE_integer(
    "seed",
    0,
    "Seed of shuffling, augmentation, init.",
    lower_bound=0,
)
flags.DEFINE_string("out_dir", None, "Output directory.")
flags.DEFINE_bool("overwrite", False, "Replace existing outputs.")
flags.mark_flags_as_required(["student", "out_dir"])


def _load(path, what):
    import keras

    if not os.path.isfile(path):
        raise ValueError(
            f"`--{what}` must be an existing .keras file. "
            f"Received: --{what}={path}"
        )
    return keras.saving.load_model(path, compile=False)


@exits_cleanly_on_user_error
def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    import keras

    import kd_toolkit  # noqa: F401 - registers the serializable objects.
    from kd_toolkit import compress

    keras.utils.set_random_seed(FLAGS.seed)
    command = " ".join(["kd-compress"] + [shlex.quote(a) for a in sys.argv[1:]])
    compress.parse_methods(FLAGS.methods)
    student = _load(FLAGS.student, "student")
    teacher = None if FLAGS.teacher is None else _load(FLAGS.teacher, "teacher")
    tuning = compress.FineTuning(
        epochs=FLAGS.epochs,
        learning_rate=FLAGS.learning_rate,
        temperature=FLAGS.temperature,
        ce_weight=FLAGS.ce_weight,
        kd_weight=FLAGS.kd_weight,
    )
    report = compress.compress_and_compare(
        student,
        teacher,
        FLAGS.out_dir,
        dataset=FLAGS.dataset,
        methods=FLAGS.methods,
        fine_tuning=tuning,
        qat_fine_tuning=tuning.replace(
            epochs=FLAGS.qat_epochs or FLAGS.epochs,
            learning_rate=FLAGS.qat_learning_rate,
        ),
        batch_size=FLAGS.batch_size,
        train_limit=FLAGS.train_limit,
        eval_limit=FLAGS.eval_limit,
        augment=FLAGS.augment,
        representative_samples=FLAGS.representative_samples,
        latency_runs=FLAGS.latency_runs,
        num_threads=FLAGS.num_threads,
        size_basis=FLAGS.size_basis,
        seed=FLAGS.seed,
        overwrite=FLAGS.overwrite,
        command=command,
    )
    print(report.to_markdown())
    return 0 if all(row.passed for row in report.rows) else 1


def run():
    """Console-script entry point (`kd-compress`)."""
    run_main(main)


if __name__ == "__main__":
    run()
