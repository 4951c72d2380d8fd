"""Export a trained student to LiteRT/TFLite and ONNX, verify every artifact.

Writes the artifacts, `export_report.md` and `export_report.json` to
`--out_dir` and prints the report table. Exits with status 0 when every
artifact passes its acceptance checks, 1 when any fails (failing artifacts
are renamed `<file>.failed`), 2 on bad input.

Example:

    kd-export --model student.keras \
        --dataset fashion_mnist \
        --formats tflite_float32,tflite_float16,tflite_int8,onnx \
        --out_dir artifacts/ --overwrite

Threshold flags (`--max_abs_diff`, ...) override that threshold for every
exported format; pass `none` to disable it. Defaults come from the design's
export acceptance table (`kd_toolkit.export.default_thresholds`).

Size: the absl flag definitions (about 150 lines) sit beside the command they
configure, as in the other command lines.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import flags
from absl import logging

from kd_toolkit.cli.errors import exits_cleanly_on_user_error
from kd_toolkit.cli.errors import run_main

_DEFAULT_FORMATS = (
    "tflite_float32,tflite_float16,tflite_dynamic_int8,tflite_int8,onnx"
)
_THRESHOLD_FLAGS = (
    "max_abs_diff",
    "min_top1_agreement",
    "min_confident_agreement",
    "max_accuracy_drop",
    "max_size_ratio",
    "max_weights_ratio",
)

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Path of the student `.keras` file.")
flags.DEFINE_string(
    "dataset",
    None,
    "kd_toolkit.data name: test split for verification, training split for "
    "int8 calibration (default: the one dataset whose image shape and class "
    "count fit the model, fashion_mnist where several do).",
)
flags.DEFINE_string(
    "data_dir",
    None,
    "Verify on a folder of your own JPEG/PNG images instead of --dataset: "
    "one subfolder per class, resized to the model's input; int8 "
    "calibration reads --calibration_dir (default: this folder). Class "
    "names reach the model card.",
)
flags.DEFINE_string(
    "calibration_dir",
    None,
    "With --data_dir: a folder of (training) images for int8 calibration, "
    "labeled or not.",
)
flags.DEFINE_string(
    "formats", _DEFAULT_FORMATS, "Comma-separated artifact formats."
)
flags.DEFINE_string("out_dir", None, "Output directory.")
flags.DEFINE_bool("overwrite", False, "Replace existing artifacts/reports.")
flags.DEFINE_integer(
    "representative_samples",
    200,
    "Calibration images for int8 formats.",
    lower_bound=1,
)
flags.DEFINE_integer(
    "eval_limit",
    None,
    "Verify on the first N test images (default: all).",
    lower_bound=1,
)
flags.DEFINE_integer(
    "opset",
    17,
    "ONNX opset.",
    lower_bound=7,
)
flags.DEFINE_bool(
    "allow_select_tf_ops",
    False,
    "Allow select TF (Flex) ops in LiteRT artifacts (default: builtins).",
)
flags.DEFINE_integer(
    "latency_runs",
    200,
    "Timed single-image runs.",
    lower_bound=1,
)
flags.DEFINE_integer(
    "latency_warmup",
    20,
    "Untimed warm-up runs.",
    lower_bound=0,
)
flags.DEFINE_integer(
    "num_threads",
    1,
    "LiteRT / onnxruntime threads.",
    lower_bound=1,
)
flags.DEFINE_bool(
    "model_card",
    True,
    "Write model_card.json/.md (input range, quantization "
    "parameters, labels, LiteRT snippets) next to the "
    "artifacts.",
)
flags.DEFINE_enum(
    "report",
    "basic",
    ["basic", "full"],
    "basic: parity, accuracy, size and single-thread latency of every "
    "artifact. full: also the latency table (--latency_threads), the "
    "microcontroller fit (TFLM tensor arena and flash), the per-layer int8 "
    "error and the Edge TPU check.",
)
flags.DEFINE_list(
    "latency_threads",
    ["1", "2"],
    "With --report=full: thread counts of the latency table "
    "(each LiteRT file with and without XNNPACK, ONNX in "
    "onnxruntime); empty skips it.",
)
flags.DEFINE_enum(
    "size_basis",
    "auto",
    ["auto", "file", "weights"],
    "Apply the default size bounds to the file or to the weight payload "
    "(for small students, whose file is mostly fixed overhead); auto: "
    "weights under 100k parameters, else file. The report says which.",
)
flags.DEFINE_string(
    "basename", None, "Artifact file stem (default: the model's name)."
)
for _name in _THRESHOLD_FLAGS:
    flags.DEFINE_string(
        _name,
        None,
        f"Override `{_name}` for every format: a number, or `none` to "
        "disable the check.",
    )
flags.mark_flags_as_required(["model", "out_dir"])


def _threshold_value(name, text):
    if text.strip().lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"--{name} must be a number or `none`. Received: {name}={text!r}"
        ) from None


def _threads(values):
    """`--latency_threads` as ints; a bad value names the flag."""
    try:
        return tuple(int(v) for v in values)
    except ValueError:
        raise ValueError(
            "`--latency_threads` must be integers >= 1. Received: "
            f"--latency_threads={','.join(values)}"
        ) from None


def _overrides():
    """The threshold flags given, parsed (bad values named)."""
    return {
        name: _threshold_value(name, getattr(FLAGS, name))
        for name in _THRESHOLD_FLAGS
        if getattr(FLAGS, name) is not None
    }


def _thresholds(formats, export, model, overrides):
    basis, _ = export.resolve_size_basis(FLAGS.size_basis, model)
    return {
        fmt.name: export.default_thresholds(fmt, basis).replace(**overrides)
        for fmt in formats
    }


def _class_names(dataset):
    from kd_toolkit.data import dataset_info

    return dataset_info(dataset).class_names


def _folder_data(model):
    """`(eval_data, calibration images, class names)` of --data_dir."""
    from kd_toolkit.data import ImageFolder

    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) != 3 or None in shape:
        raise ValueError(
            "--data_dir needs a model with a fixed (H, W, C) input to resize "
            f"the images to. Received: a model input of {shape}"
        )
    folder = ImageFolder(FLAGS.data_dir, shape[:2], channels=shape[2])
    classes = model.outputs[0].shape[-1]
    if folder.num_classes != classes:
        raise ValueError(
            f"--data_dir has {folder.num_classes} class folders "
            f"{list(folder.class_names)} but the model outputs {classes} "
            f"classes. Received: data_dir={FLAGS.data_dir!r}"
        )
    folder.verify()
    limit = min(FLAGS.eval_limit or folder.num_examples, folder.num_examples)
    eval_data = folder.arrays(range(limit))
    calibration = ImageFolder(
        FLAGS.calibration_dir or FLAGS.data_dir,
        shape[:2],
        channels=shape[2],
        labels=None,
    )
    n = min(FLAGS.representative_samples, calibration.num_examples)
    step = max(1, calibration.num_examples // n)
    ids = list(range(0, calibration.num_examples, step))[:n]
    return eval_data, calibration.arrays(ids)[0], folder.class_names


def _dataset_for(model):
    """`--dataset`, or the catalog dataset that fits the model's input
    shape and class count (fashion_mnist first); none or an ambiguous
    choice is an error that lists what fits."""
    if FLAGS.dataset:
        return FLAGS.dataset
    from kd_toolkit import data

    shape = tuple(model.inputs[0].shape[1:])
    classes = model.outputs[0].shape[-1]
    fits = [
        name
        for name in data.names()
        if tuple(data.dataset_info(name).input_shape) == shape
        and data.dataset_info(name).num_classes == classes
    ]
    if "fashion_mnist" in fits:
        fits.remove("fashion_mnist")
        fits.insert(0, "fashion_mnist")
    if len(fits) != 1 and not (fits and fits[0] == "fashion_mnist"):
        raise ValueError(
            "--dataset is needed: the model takes images of shape "
            f"{shape} and outputs {classes} classes, and "
            + (
                f"several datasets fit: {fits}"
                if fits
                else "no dataset of "
                f"kd_toolkit.data fits (names: {list(data.names())})"
            )
            + ". Received: dataset=None"
        )
    others = f" (also fits: {', '.join(fits[1:])})" if fits[1:] else ""
    print(
        f"[kd_toolkit] --dataset not given: verifying on {fits[0]}, whose "
        f"images {shape} and {classes} classes fit the model{others}",
        flush=True,
    )
    return fits[0]


def _load_model(keras, path):
    """Loads a `.keras` file; an unreadable one is a clear error."""
    import zipfile

    if not zipfile.is_zipfile(path):
        raise ValueError(
            "--model exists but is not a `.keras` archive (a zip file): it "
            "is corrupt, truncated or another format. Received: "
            f"model={path!r}"
        )
    try:
        model = keras.saving.load_model(path, compile=False)
    except (ValueError, TypeError, OSError, KeyError) as error:
        raise ValueError(
            f"--model could not be loaded as a Keras model "
            f"({type(error).__name__}: {str(error)[:300]}). Received: "
            f"model={path!r}"
        ) from error
    from kd_toolkit.distiller import Distiller

    if isinstance(model, Distiller):
        # What ModelCheckpoint writes during distillation: what ships is
        # the student inside it.
        print(
            f"[kd_toolkit] --model holds a Distiller: exporting its student "
            f"'{model.student.name}'",
            flush=True,
        )
        return model.student
    return model


@exits_cleanly_on_user_error
def main(argv):
    """Exports and verifies a `.keras` model; exit code 1 if any fails.

    Size: the command's steps in order (load, data, export, card, exit
    code), each a call, read in one place.
    """
    del argv
    logging.set_verbosity(logging.WARNING)
    import keras

    import kd_toolkit  # noqa: F401 - registers the serializable classes.
    from kd_toolkit import export

    formats = export.parse_formats(FLAGS.formats)
    full = FLAGS.report == "full"
    overrides = _overrides()
    latency_threads = _threads(FLAGS.latency_threads) if full else ()
    if FLAGS.dataset is not None and FLAGS.data_dir is not None:
        raise ValueError(
            "Pass --dataset or --data_dir, not both. Received: dataset="
            f"{FLAGS.dataset!r}, data_dir={FLAGS.data_dir!r}"
        )
    if FLAGS.calibration_dir is not None and FLAGS.data_dir is None:
        raise ValueError(
            "--calibration_dir goes with --data_dir. Received: "
            f"calibration_dir={FLAGS.calibration_dir!r}, data_dir=None"
        )
    for flag in ("data_dir", "calibration_dir"):
        folder = getattr(FLAGS, flag)
        if folder is not None and not os.path.isdir(folder):
            raise FileNotFoundError(
                f"--{flag} must be an existing folder. Received: "
                f"{flag}={folder!r}"
            )
    if FLAGS.dataset is not None:
        from kd_toolkit.data import dataset_info

        dataset_info(FLAGS.dataset)  # an unknown name lists the valid ones
    if not os.path.isfile(FLAGS.model):
        raise FileNotFoundError(
            f"--model must be an existing `.keras` file. "
            f"Received: model={FLAGS.model!r}"
        )
    model = _load_model(keras, FLAGS.model)
    if FLAGS.data_dir is not None:
        dataset = None
        eval_data, calibration, class_names = _folder_data(model)
    else:
        dataset = _dataset_for(model)
        eval_data = calibration = None
        class_names = _class_names(dataset)
    report = export.export_and_verify(
        model,
        formats,
        FLAGS.out_dir,
        dataset=dataset,
        eval_data=eval_data,
        representative_data=calibration,
        eval_limit=FLAGS.eval_limit,
        thresholds=_thresholds(formats, export, model, overrides),
        size_basis=FLAGS.size_basis,
        basename=FLAGS.basename,
        overwrite=FLAGS.overwrite,
        conversion=export.Conversion(
            representative_samples=FLAGS.representative_samples,
            allow_select_tf_ops=FLAGS.allow_select_tf_ops,
            opset=FLAGS.opset,
        ),
        timing=export.Timing(
            runs=FLAGS.latency_runs,
            warmup=FLAGS.latency_warmup,
            num_threads=FLAGS.num_threads,
            table_threads=latency_threads,
        ),
        checks=export.ExtraChecks.all() if full else None,
    )
    print(report.to_markdown())
    if FLAGS.model_card and any(a.passed for a in report.artifacts):
        from kd_toolkit.distiller.output_kind import detect_output_kind
        from kd_toolkit.export import model_card

        card = model_card.write_model_card(
            report,
            FLAGS.out_dir,
            class_names=class_names,
            output_kind=detect_output_kind(model),
            overwrite=FLAGS.overwrite,
        )
        print(f"Model card: {card[1]}")
    print(f"Reports written to {os.path.join(FLAGS.out_dir, '')}")
    if not report.passed:
        print(f"FAILED formats: {', '.join(report.failed)}", file=sys.stderr)
        return 1
    return 0


def run():
    """Console-script entry point (`kd-export`)."""
    run_main(main)


if __name__ == "__main__":
    run()
