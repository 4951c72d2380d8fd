"""Accuracy benchmark: does activation map adaptation help, and at what cost?

Fashion-MNIST, one teacher trained once and cached, one student
architecture, every method from the same student seeds with the same
epochs, optimizer (Adam, cosine decay) and data:

  alone       student trained alone (cross-entropy)
  kd          Hinton KD (ours)
  fitnets_kd  FitNets hint + KD
  at_kd       attention transfer + KD
  keras_kd    Keras's own keras.distillation.Distiller (LogitsDistillation)
  ama_kd      activation map adaptation + KD

Reports test top-1 mean ± std over seeds, the student's final training
cross-entropy, seconds per epoch, the teacher's accuracy (full and
adapted), as JSON, a Markdown table and a PNG plot of test accuracy per
epoch. `--tune` evaluates on a validation split carved from the end of the
training set (never the test set), for hyper-parameter search.

Reproduce the README table:

```
python benchmarks/accuracy.py
```

Smoke run (also in the test suite): `python benchmarks/accuracy.py --quick`.
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import tensorflow as tf
from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import accuracy_methods as am
import accuracy_report

import kd_toolkit as kd
from kd_toolkit.utils.atomic_io import atomic_save_model

FLAGS = flags.FLAGS
flags.DEFINE_bool("quick", False, "Smoke run: tiny models and data.")
flags.DEFINE_list("methods", list(am.METHOD_NAMES), "Methods to run.")
flags.DEFINE_list("seeds", ["0", "1", "2"], "Student seeds.")
flags.DEFINE_string("teacher", "resnet20", "Teacher zoo name.")
flags.DEFINE_integer("teacher_width", 0, "Teacher base_width (0: default).")
flags.DEFINE_integer("teacher_epochs", 12, "Teacher epochs (full train set).")
flags.DEFINE_string("student", "resnet8", "Student zoo name.")
flags.DEFINE_integer("student_width", 8, "Student base_width (0: default).")
flags.DEFINE_integer("epochs", 15, "Student epochs.")
flags.DEFINE_integer("train_limit", 10000,
                     "Students train on the first N training images.")
flags.DEFINE_integer("test_limit", 0, "Evaluate on N test images (0: all).")
flags.DEFINE_integer("batch_size", 128, "Batch size.")
flags.DEFINE_float("learning_rate", 2e-3, "Peak Adam learning rate.")
flags.DEFINE_bool("student_augment", False,
                  "Pad-crop-flip augmentation of the student training data "
                  "(off: 15 epochs on 10k images already underfit a width-8 "
                  "resnet8; with it the student alone lost 2.5 points).")
flags.DEFINE_float("temperature", 4.0, "KD temperature.")
flags.DEFINE_float("kd_weight", 0.9, "KD weight (hard labels: 1 - it).")
flags.DEFINE_string("ama_start", "stage3_block1_out", "AMA start cut.")
flags.DEFINE_string("ama_end", "stage3_out", "AMA end cut.")
flags.DEFINE_string("ama_student_layer", "stage3_out",
                    "Student layer the adapter supervises.")
flags.DEFINE_float("ama_map_weight", 5.0, "AMA student map-loss weight.")
flags.DEFINE_float("ama_gamma", 1.0, "AMA adapter map-loss weight γ.")
flags.DEFINE_integer("ama_warmup_steps", 300, "AMA adapter warm-up steps.")
flags.DEFINE_bool("tune", False,
                  "Evaluate on the last 10k training images instead of test.")
flags.DEFINE_string("cache_dir", "benchmarks/cache", "Teacher cache.")
flags.DEFINE_string("out_dir", "benchmarks/results", "Output directory.")
flags.DEFINE_string("tag", "accuracy", "Output file stem.")

DATASET = "fashion_mnist"
VALIDATION_SIZE = 10000


def _apply_quick():
    if not FLAGS.quick:
        return
    FLAGS.seeds = ["0"]
    FLAGS.teacher, FLAGS.teacher_width, FLAGS.teacher_epochs = "resnet14", 8, 1
    FLAGS.student, FLAGS.student_width, FLAGS.epochs = "resnet8", 4, 1
    FLAGS.train_limit, FLAGS.test_limit = 512, 256
    FLAGS.ama_warmup_steps = 4
    FLAGS.tag = "accuracy_quick"


def _datasets(info):
    n_eval = FLAGS.test_limit or None
    common = dict(batch_size=FLAGS.batch_size)
    train = kd.data.load(DATASET, "train", limit=FLAGS.train_limit,
                         augment=FLAGS.student_augment, **common)
    train_eval = kd.data.load(DATASET, "train", limit=FLAGS.train_limit,
                              augment=False, shuffle=False, batch_size=512)
    if FLAGS.tune:
        if FLAGS.train_limit > info.num_train - VALIDATION_SIZE:
            raise ValueError(
                "--tune keeps the last 10000 training images for validation;"
                f" --train_limit must be <= {info.num_train - VALIDATION_SIZE}"
                f". Received: train_limit={FLAGS.train_limit}")
        x, y = kd.data.load_numpy(DATASET, "train")
        x, y = x[-VALIDATION_SIZE:], y[-VALIDATION_SIZE:]
        if n_eval:
            x, y = x[:n_eval], y[:n_eval]
        evaluation = tf.data.Dataset.from_tensor_slices((x, y)).batch(512)
    else:
        evaluation = kd.data.load(DATASET, "test", limit=n_eval,
                                  batch_size=512)
    return train, train_eval, evaluation


def _teacher(info, eval_ds):
    width = FLAGS.teacher_width or None
    key = (f"{DATASET}_{FLAGS.teacher}"
           f"{'_w' + str(width) if width else ''}_{FLAGS.teacher_epochs}ep")
    path = os.path.join(FLAGS.cache_dir, key + ".keras")
    if os.path.exists(path):
        print(f"loading cached teacher {path}", flush=True)
        teacher = keras.models.load_model(path)
        return teacher, {"path": path, "cached": True,
                         "train_images": 2048 if FLAGS.quick
                         else info.num_train}
    print(f"training teacher {key} on the full training set", flush=True)
    keras.utils.set_random_seed(1234)
    kwargs = {"base_width": width} if width else {}
    teacher = kd.models.get(FLAGS.teacher, input_shape=info.input_shape,
                            num_classes=info.num_classes, **kwargs)
    limit = 2048 if FLAGS.quick else None
    train = kd.data.load(DATASET, "train", batch_size=FLAGS.batch_size,
                         limit=limit, seed=1234)
    steps = -(-(limit or info.num_train) // FLAGS.batch_size)
    teacher.compile(
        keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
            FLAGS.learning_rate, steps * FLAGS.teacher_epochs)),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"])
    start = time.perf_counter()
    teacher.fit(train, epochs=FLAGS.teacher_epochs, verbose=2, shuffle=False)
    seconds = (time.perf_counter() - start) / FLAGS.teacher_epochs
    os.makedirs(FLAGS.cache_dir, exist_ok=True)
    atomic_save_model(teacher, path)
    return teacher, {"path": path, "cached": False,
                     "train_images": limit or info.num_train,
                     "seconds_per_epoch": seconds}


def main(argv):
    del argv
    _apply_quick()
    unknown = sorted(set(FLAGS.methods) - set(am.METHOD_NAMES))
    if unknown:
        raise ValueError(f"Unknown methods {unknown}. Expected a subset of "
                         f"{list(am.METHOD_NAMES)}. Received: "
                         f"methods={FLAGS.methods}")
    info = kd.data.dataset_info(DATASET)
    train_ds, train_eval_ds, eval_ds = _datasets(info)
    teacher, teacher_info = _teacher(info, eval_ds)
    teacher_info.update(arch=FLAGS.teacher, width=FLAGS.teacher_width or None,
                        epochs=FLAGS.teacher_epochs,
                        params=teacher.count_params(),
                        accuracy=am.evaluate(teacher, eval_ds)[0])
    print(f"teacher accuracy {teacher_info['accuracy']:.4f}", flush=True)
    settings = am.Settings(
        student=FLAGS.student, student_width=FLAGS.student_width or None,
        input_shape=info.input_shape, num_classes=info.num_classes,
        epochs=FLAGS.epochs,
        steps_per_epoch=-(-FLAGS.train_limit // FLAGS.batch_size),
        learning_rate=FLAGS.learning_rate, temperature=FLAGS.temperature,
        kd_weight=FLAGS.kd_weight, ama_start=FLAGS.ama_start,
        ama_end=FLAGS.ama_end, ama_student_layer=FLAGS.ama_student_layer,
        ama_map_weight=FLAGS.ama_map_weight, ama_gamma=FLAGS.ama_gamma,
        ama_warmup_steps=FLAGS.ama_warmup_steps)
    runners = {"alone": am.run_alone, "kd": am.run_kd,
               "fitnets_kd": am.run_fitnets_kd, "at_kd": am.run_at_kd,
               "keras_kd": am.run_keras_kd,
               "ama_kd": am.make_run_ama_kd(train_ds, eval_ds)}
    rows = {m: [] for m in FLAGS.methods}
    for seed in [int(s) for s in FLAGS.seeds]:
        for method in FLAGS.methods:
            row = am.train(runners[method], settings, teacher, seed,
                           train_ds, eval_ds, train_eval_ds)
            rows[method].append(row)
            print(f"seed {seed} {method:>10}: acc {row['test_accuracy']:.4f}"
                  f"  train_ce {row['train_ce']:.4f}  "
                  f"{row['seconds_per_epoch']:.1f} s/epoch", flush=True)
            keras.backend.clear_session(free_memory=False)
    result = {
        "meta": {
            "date": time.strftime("%Y-%m-%d"),
            "machine": f"{os.cpu_count()} CPU cores",
            "versions": {"tensorflow": tf.__version__,
                         "keras": keras.__version__},
            "command": "python benchmarks/accuracy.py "
                       + " ".join(sys.argv[1:]),
            "evaluation": "validation (last 10k train images)" if FLAGS.tune
                          else "Fashion-MNIST test set",
            "settings": {k: (list(v) if isinstance(v, tuple) else v)
                         for k, v in vars(settings).items()},
            "train_images": FLAGS.train_limit, "seeds": FLAGS.seeds,
        },
        "teacher": teacher_info,
        "methods": rows,
        "summary": {m: accuracy_report.summarize(r) for m, r in rows.items()},
    }
    paths = accuracy_report.write(result, FLAGS.out_dir, FLAGS.tag)
    print(accuracy_report.to_markdown(result))
    print("wrote " + ", ".join(paths))


if __name__ == "__main__":
    app.run(main)
