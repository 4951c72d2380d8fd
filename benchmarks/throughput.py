"""Training throughput: our Distiller against the alternatives, one process.

Measures images per second, same models, same batch, interleaved rounds:

  (a) student-only training step,
  (b) teacher inference,
  (c) kd_toolkit Distiller KD step (teacher + student fused in one step),
  (d) Keras's own `keras.distillation.Distiller` with `LogitsDistillation`,
  (e) kd_toolkit Distiller KD + AMA step with an adapted teacher
      (activation map adaptation: some teacher blocks replaced by a light
      adapter; `--noama` skips it).

and prints the ratios (c)/(d) and time(c) / (time(a) + time(b)); with (e),
time(e) / time(c). Each round runs `--steps` steps of every method in a
rotated order; the median over rounds is reported. Results go to JSON and
Markdown.

Reproduce:

```
python benchmarks/throughput.py --rounds=7 --steps=15
```
"""

import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf
from absl import app
from absl import flags

import kd_toolkit as kd
from kd_toolkit.utils.atomic_io import atomic_write_texts

FLAGS = flags.FLAGS
flags.DEFINE_string("teacher", "resnet20", "Teacher zoo name.")
flags.DEFINE_string("student", "resnet8", "Student zoo name.")
flags.DEFINE_integer("student_width", 8, "Student base_width (0: default).")
flags.DEFINE_integer("batch_size", 128, "Batch size.")
flags.DEFINE_integer("rounds", 7, "Interleaved measurement rounds.")
flags.DEFINE_integer("steps", 15, "Steps per method per round.")
flags.DEFINE_float("temperature", 4.0, "KD temperature.")
flags.DEFINE_string("ama_start", "stage3_block1_out",
                    "AMA replacement start cut (teacher layer).")
flags.DEFINE_string("ama_end", "stage3_out",
                    "AMA replacement end cut (teacher layer).")
flags.DEFINE_bool("ama", True, "Also time the adapted-teacher step (e).")
flags.DEFINE_bool("quick", False, "Smoke run: 2 rounds of 2 steps.")
flags.DEFINE_string("out_dir", "benchmarks/results", "Output directory.")


def _ce():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def build_steps(teacher, student_factory, batch_size, temperature,
                adapted_teacher=None, ama_loss_factory=None):
    """Returns {method: zero-arg callable running one step}."""
    rng = np.random.default_rng(0)
    shape = (batch_size,) + tuple(teacher.input_shape[1:])
    x = tf.constant(rng.random(shape, dtype="float32"))
    y = tf.constant(rng.integers(0, 10, batch_size), dtype="int32")

    alone = student_factory()
    alone.compile(keras.optimizers.Adam(1e-3), _ce())

    infer = tf.function(lambda v: teacher(v, training=False))

    ours = kd.Distiller(teacher, student_factory(),
                        losses=[kd.losses.KD(temperature, weight=0.9)],
                        student_loss_weight=0.1)
    ours.compile(keras.optimizers.Adam(1e-3))

    theirs = keras.distillation.Distiller(
        teacher=teacher, student=student_factory(),
        distillation_losses=keras.distillation.LogitsDistillation(
            temperature=temperature),
        student_loss_weight=0.1)
    theirs.compile(optimizer=keras.optimizers.Adam(1e-3), loss=_ce())

    steps = {
        "a_student_step": lambda: alone.train_on_batch(x, y),
        "b_teacher_inference": lambda: infer(x).numpy(),
        "c_kd_toolkit_kd_step": lambda: ours.train_on_batch(x, y),
        "d_keras_distiller_step": lambda: theirs.train_on_batch(x, y),
    }
    if adapted_teacher is not None:
        ama = kd.Distiller(
            adapted_teacher, student_factory(),
            losses=[kd.losses.KD(temperature, weight=0.9),
                    ama_loss_factory()],
            student_loss_weight=0.1)
        ama.compile(keras.optimizers.Adam(1e-3))
        steps["e_kd_toolkit_ama_step"] = lambda: ama.train_on_batch(x, y)
    return steps


def measure(steps, rounds, n):
    """Interleaved timing; returns {method: [seconds per step, per round]}."""
    for fn in steps.values():  # trace and warm up
        for _ in range(3):
            fn()
    names = list(steps)
    times = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            start = time.perf_counter()
            for _ in range(n):
                steps[name]()
            times[name].append((time.perf_counter() - start) / n)
    return times


def summarize(times, batch_size):
    """Median seconds per step, images per second and the ratios."""
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "seconds_per_step": med,
        "images_per_second": {k: batch_size / v for k, v in med.items()},
        "ratios": {
            "c_over_d_speed": med["d_keras_distiller_step"]
            / med["c_kd_toolkit_kd_step"],
            "c_time_over_a_plus_b_time": med["c_kd_toolkit_kd_step"]
            / (med["a_student_step"] + med["b_teacher_inference"]),
            "d_time_over_a_plus_b_time": med["d_keras_distiller_step"]
            / (med["a_student_step"] + med["b_teacher_inference"]),
        },
    }
    if "e_kd_toolkit_ama_step" in med:
        result["ratios"]["e_time_over_c_time"] = (
            med["e_kd_toolkit_ama_step"] / med["c_kd_toolkit_kd_step"])
    return result


def to_markdown(result, meta):
    lines = [
        f"Throughput, batch {meta['batch_size']}, teacher `{meta['teacher']}`"
        f", student `{meta['student']}`, {meta['machine']}, "
        f"{meta['rounds']} interleaved rounds × {meta['steps']} steps "
        "(median).", "",
        "| step | ms/step | images/s |", "|---|---|---|"]
    for k, v in result["seconds_per_step"].items():
        lines.append(f"| {k} | {1000 * v:.1f} | "
                     f"{result['images_per_second'][k]:.0f} |")
    lines += ["", "| ratio | value |", "|---|---|"]
    lines += [f"| {k} | {v:.3f} |" for k, v in result["ratios"].items()]
    lines += ["", f"Command: `{meta['command']}`", ""]
    return "\n".join(lines)


def _adaptation(teacher):
    """Adapted teacher + AMA loss factory, or (None, None) without --ama."""
    if not FLAGS.ama:
        return None, None
    from kd_toolkit import adaptation

    adapted = adaptation.adapt_teacher(teacher, replacements=[
        adaptation.Replacement(start=FLAGS.ama_start, end=FLAGS.ama_end,
                               student_layer="stage3_out")])
    print(adapted.cost())
    return adapted, lambda: kd.losses.ActivationMapAdaptation(
        adapted.replacements)


def main(argv):
    del argv
    rounds, n = (2, 2) if FLAGS.quick else (FLAGS.rounds, FLAGS.steps)
    shape, classes = (28, 28, 1), 10
    keras.utils.set_random_seed(0)
    teacher = kd.models.get(FLAGS.teacher, input_shape=shape,
                            num_classes=classes)
    width = {"base_width": FLAGS.student_width} if FLAGS.student_width else {}

    def student_factory():
        return kd.models.get(FLAGS.student, input_shape=shape,
                             num_classes=classes, **width)

    adapted, ama_loss = _adaptation(teacher)
    steps = build_steps(teacher, student_factory, FLAGS.batch_size,
                        FLAGS.temperature, adapted and adapted.model, ama_loss)
    result = summarize(measure(steps, rounds, n), FLAGS.batch_size)
    if adapted is not None:
        cost = adapted.cost()
        result["ratios"]["adapted_teacher_macs_ratio"] = cost.macs_ratio
        result["ratios"]["adapted_teacher_params_ratio"] = cost.params_ratio
    meta = {
        "teacher": FLAGS.teacher,
        "student": FLAGS.student + (f" (width {FLAGS.student_width})"
                                    if FLAGS.student_width else ""),
        "batch_size": FLAGS.batch_size, "rounds": rounds, "steps": n,
        "machine": f"{os.cpu_count()} CPU cores",
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
        "date": time.strftime("%Y-%m-%d"),
        "command": "python benchmarks/throughput.py " + " ".join(sys.argv[1:]),
    }
    markdown = to_markdown(result, meta)
    os.makedirs(FLAGS.out_dir, exist_ok=True)
    atomic_write_texts({
        os.path.join(FLAGS.out_dir, "throughput.json"):
            json.dumps({"meta": meta, **result}, indent=2),
        os.path.join(FLAGS.out_dir, "throughput.md"): markdown},
        overwrite=True)
    print(markdown)


if __name__ == "__main__":
    app.run(main)
