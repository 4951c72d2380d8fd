"""Find the student for a budget: distil candidates, measure, ship the best.

Distils every candidate from one teacher-output cache, exports each in the
budget's format, verifies and measures it (LiteRT latency at the budget's
threads, flash, TFLM tensor arena, Edge TPU readiness), and writes
`search.md`, `search.json`, `search.png` and the winner's artifact and
model card (`winner/`) to `--out_dir`. A rerun skips finished candidates.
Exits with status 0 when a candidate fits, 1 when none does, 2 on bad
input.

Example:

    kd-search --teacher=fashion_mnist_resnet20 --dataset=fashion_mnist \
        --candidate=resnet8:base_width=4 --candidate=resnet8:base_width=8 \
        --latency_ms=0.2 --threads=1 --epochs=5 --out_dir=search/

Validation: the last `--val_size` training images (never the test split,
so the pick is not tuned on it); with `--data_dir`, the folder
`--val_dir`.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import flags
from absl import logging

from kd_toolkit.cli.errors import exits_cleanly_on_user_error
from kd_toolkit.cli.errors import run_main

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "teacher",
    "fashion_mnist_resnet20",
    "Shipped teacher (kd_toolkit.pretrained.names()); ignored with "
    "--teacher_path.",
)
flags.DEFINE_string("teacher_path", None, "A teacher `.keras` file.")
flags.DEFINE_string(
    "dataset", "fashion_mnist", "kd_toolkit.data name (its training split)."
)
flags.DEFINE_integer(
    "train_limit", None, "Train on the first N images only.", lower_bound=1
)
flags.DEFINE_integer(
    "val_size", 5000, "Validation: the last N training images.", lower_bound=1
)
flags.DEFINE_string(
    "data_dir", None, "A folder of class subfolders instead of --dataset."
)
flags.DEFINE_string("val_dir", None, "Validation folder (with --data_dir).")
flags.DEFINE_list(
    "image_size", None, "H,W of --data_dir images (default: the teacher's)."
)
flags.DEFINE_multi_string(
    "candidate",
    None,
    "A candidate: zoo name and Python-literal options, e.g. "
    "resnet8:base_width=4 or 'mobilenet_tiny:filters=(8, 16, 32)'. "
    "Repeat the flag; none: the default ladder (~5k to ~300k parameters).",
)
flags.DEFINE_string("method", "kd", "A logits-only method (kd, kd_ls, dkd).")
flags.DEFINE_integer("epochs", 5, "Epochs per candidate.", lower_bound=1)
flags.DEFINE_integer("batch_size", 128, "Batch size.", lower_bound=1)
flags.DEFINE_integer(
    "draws",
    1,
    "Cached augmented views per image (1: no augmentation).",
    lower_bound=1,
)
flags.DEFINE_float("latency_ms", None, "Budget: LiteRT median latency.")
flags.DEFINE_integer("threads", 1, "LiteRT threads.", lower_bound=1)
flags.DEFINE_bool("xnnpack", True, "Time with XNNPACK (else built-in kernels).")
flags.DEFINE_integer(
    "flash_bytes", None, "Budget: artifact bytes.", lower_bound=1
)
flags.DEFINE_integer(
    "arena_bytes", None, "Budget: TFLM tensor arena bytes.", lower_bound=1
)
flags.DEFINE_bool("edge_tpu", False, "Budget: pass the static Edge TPU check.")
flags.DEFINE_string("format", "tflite_int8", "Artifact format shipped.")
flags.DEFINE_list(
    "refine",
    [],
    "Compress the winner too: qat and/or prune<NN>, ranked with the rest.",
)
flags.DEFINE_integer(
    "refine_epochs",
    None,
    "Fine-tuning epochs (default --epochs).",
    lower_bound=1,
)
flags.DEFINE_string("out_dir", "student_search", "Output directory.")
flags.DEFINE_integer("seed", 0, "Seed.", lower_bound=0)


def _teacher():
    import keras

    from kd_toolkit import pretrained

    if FLAGS.teacher_path:
        path = FLAGS.teacher_path
        if not (path.endswith(".keras") and os.path.isfile(path)):
            raise ValueError(
                "--teacher_path must be an existing `.keras` file. Received: "
                f"teacher_path={path!r}"
            )
        return keras.models.load_model(path, compile=False)
    if FLAGS.teacher not in pretrained.names():
        raise ValueError(
            f"--teacher must be a shipped teacher, one of "
            f"{pretrained.names()}, or pass --teacher_path. Received: "
            f"teacher={FLAGS.teacher!r}"
        )
    return pretrained.load(FLAGS.teacher)


def _folder(flag):
    folder = getattr(FLAGS, flag)
    if not os.path.isdir(folder):
        raise ValueError(
            f"--{flag} must be a folder of class subfolders. Received: "
            f"{flag}={folder!r}"
        )
    return folder


def _image_size(shape):
    if not FLAGS.image_size:
        return shape[:2]
    try:
        size = tuple(int(v) for v in FLAGS.image_size)
    except ValueError:
        size = ()
    if len(size) != 2 or min(size) < 1:
        raise ValueError(
            "--image_size must be two positive integers H,W. Received: "
            f"image_size={','.join(FLAGS.image_size)!r}"
        )
    return size


def _data(teacher):
    """`(train, val, augment, class_names)`."""
    from kd_toolkit import data

    if FLAGS.data_dir is None:
        if FLAGS.val_dir is not None:
            raise ValueError(
                "--val_dir goes with --data_dir. Received: val_dir="
                f"{FLAGS.val_dir!r}, data_dir=None"
            )
        if FLAGS.dataset not in data.names():
            raise ValueError(
                f"--dataset must be one of {data.names()}, or pass "
                f"--data_dir. Received: dataset={FLAGS.dataset!r}"
            )
        x, y = data.load_numpy(FLAGS.dataset, "train", limit=FLAGS.train_limit)
        if FLAGS.val_size >= len(x):
            raise ValueError(
                f"--val_size must leave training images: it is at most "
                f"{len(x) - 1} here. Received: val_size={FLAGS.val_size}"
            )
        n = len(x) - FLAGS.val_size
        info = data.dataset_info(FLAGS.dataset)
        augment = data.augment_spec(FLAGS.dataset) if FLAGS.draws > 1 else None
        return (x[:n], y[:n]), (x[n:], y[n:]), augment, list(info.class_names)
    if FLAGS.val_dir is None:
        raise ValueError(
            "--data_dir needs --val_dir (a folder of the same classes). "
            "Received: val_dir=None"
        )
    shape = tuple(teacher.inputs[0].shape[1:])
    size = _image_size(shape)
    train = data.ImageFolder(_folder("data_dir"), size, channels=shape[-1])
    val = data.ImageFolder(
        _folder("val_dir"),
        size,
        channels=shape[-1],
        class_names=train.class_names,
    )
    augment = data.AugmentSpec(pad=max(1, size[0] // 14), flip=True)
    return train, val.arrays(), augment if FLAGS.draws > 1 else None, None


@exits_cleanly_on_user_error
def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    from kd_toolkit import recipes

    budget = recipes.Budget(
        latency_ms=FLAGS.latency_ms,
        threads=FLAGS.threads,
        xnnpack=FLAGS.xnnpack,
        flash_bytes=FLAGS.flash_bytes,
        arena_bytes=FLAGS.arena_bytes,
        edge_tpu=FLAGS.edge_tpu,
        format=FLAGS.format,
    )
    candidates = (
        [recipes.Candidate.parse(c) for c in FLAGS.candidate]
        if FLAGS.candidate
        else None
    )
    teacher = _teacher()
    train, val, augment, class_names = _data(teacher)
    result = recipes.search_students(
        teacher,
        train,
        val,
        candidates,
        budget,
        method=FLAGS.method,
        epochs=FLAGS.epochs,
        batch_size=FLAGS.batch_size,
        augment=augment,
        draws=FLAGS.draws,
        class_names=class_names,
        out_dir=FLAGS.out_dir,
        seed=FLAGS.seed,
        refine=FLAGS.refine,
        refine_epochs=FLAGS.refine_epochs,
    )
    with open(result.report_path) as f:
        print(f.read())
    return 0 if result.winner is not None else 1


def run():
    """Console-script entry point (`kd-search`)."""
    run_main(main)


if __name__ == "__main__":
    run()
