"""Seconds per distillation step: adapted teacher (AMA) vs full teacher (KD).

Same student architecture, same batch, same optimizer, in one process,
interleaved rounds (the order alternates each round); the median over
rounds of the wall-clock and of the process CPU time is reported:

  kd:  Distiller(teacher, student, [KD])                 full teacher
  ama: Distiller(adapted.model, student, [KD, AMA])      blocks replaced

The AMA step runs the adapted teacher inside the gradient tape (its
adapters train) but no longer executes the replaced blocks. The ratio
`ama / kd` below 1 means the AMA step is faster. Weights are untrained:
the step time does not depend on their values.

Reproduce:

```
python benchmarks/ama_step_time.py --rounds=7 --steps=10
python benchmarks/ama_step_time.py --quick
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
from kd_toolkit.utils.atomic_io import atomic_write_text

FLAGS = flags.FLAGS
flags.DEFINE_string("teacher", "resnet20", "Teacher zoo name.")
flags.DEFINE_string("student", "resnet8", "Student zoo name.")
flags.DEFINE_integer("student_width", 8, "Student base_width (0: default).")
flags.DEFINE_integer("batch_size", 128, "Batch size.")
flags.DEFINE_integer("rounds", 7, "Interleaved measurement rounds.")
flags.DEFINE_integer("steps", 10, "Steps per method per round.")
flags.DEFINE_string("start", "stage3_block1_out", "Replacement start cut.")
flags.DEFINE_string("end", "stage3_block3_out", "Replacement end cut.")
flags.DEFINE_string("student_layer", "stage3_out", "Supervised student map.")
flags.DEFINE_bool("quick", False, "Smoke run: 2 rounds of 2 steps.")
flags.DEFINE_string("out_dir", "", "If set, write JSON and Markdown here.")


def time_steps(step_fns, rounds, steps, warmup=2):
    """Interleaved timing of zero-argument step functions.

    Both wall-clock time and the CPU time of this process (all threads) are
    recorded: on a shared machine the CPU time is the steadier measure of
    the work a step does, the wall time what a user waits.

    Args:
        step_fns: dict, name -> callable running one training step.
        rounds: int. Measurement rounds; the order rotates each round.
        steps: int. Steps per function per round.
        warmup: int. Untimed calls per function first (tracing).

    Returns:
        Dict, name -> `{"wall": s, "cpu": s}`: median seconds per step over
        the rounds.
    """
    for fn in step_fns.values():
        for _ in range(warmup):
            fn()
    names = list(step_fns)
    times = {name: {"wall": [], "cpu": []} for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(steps):
                step_fns[name]()
            times[name]["wall"].append((time.perf_counter() - wall) / steps)
            times[name]["cpu"].append((time.process_time() - cpu) / steps)
    return {name: {clock: statistics.median(v) for clock, v in t.items()}
            for name, t in times.items()}


def build_step_fns(teacher, student_factory, replacement, batch_size,
                   temperature=4.0):
    """One KD and one AMA+KD `train_on_batch` closure on a fixed batch.

    Args:
        teacher: the full teacher (its layers get frozen by the surgery).
        student_factory: zero-argument callable returning a fresh student.
        replacement: the `kd_toolkit.adaptation.Replacement` to apply.
        batch_size: int.
        temperature: KD temperature.

    Returns:
        `(step_fns, adapted)`: dict with keys `"kd"` and `"ama"`, and the
        `AdaptedTeacher`.
    """
    rng = np.random.default_rng(0)
    shape = (batch_size,) + tuple(teacher.input_shape[1:])
    classes = int(teacher.output.shape[-1])
    x = tf.constant(rng.random(shape, dtype="float32"))
    y = tf.constant(rng.integers(0, classes, batch_size), dtype="int32")
    kd_distiller = kd.Distiller(teacher, student_factory(),
                                losses=[kd.losses.KD(temperature)])
    adapted = kd.adaptation.adapt_teacher(teacher, [replacement])
    ama_distiller = kd.Distiller(
        adapted.model, student_factory(),
        losses=[kd.losses.KD(temperature),
                kd.losses.ActivationMapAdaptation(adapted.replacements)])
    for distiller in (kd_distiller, ama_distiller):
        distiller.compile(keras.optimizers.Adam(1e-3))
    return {"kd": lambda: kd_distiller.train_on_batch(x, y),
            "ama": lambda: ama_distiller.train_on_batch(x, y)}, adapted


def to_markdown(result):
    meta = result["meta"]
    ms = {k: {c: 1000 * t for c, t in v.items()}
          for k, v in result["seconds_per_step"].items()}
    ratio = result["ratio"]
    return "\n".join([
        f"AMA step time, teacher `{meta['teacher']}` (`{meta['start']}` -> "
        f"`{meta['end']}` replaced), student `{meta['student']}`, batch "
        f"{meta['batch_size']}, {meta['machine']}, {meta['rounds']} rounds "
        f"x {meta['steps']} steps (median).", "",
        "| step | wall ms/step | CPU ms/step |", "|---|---|---|",
        f"| KD, full teacher | {ms['kd']['wall']:.1f} | "
        f"{ms['kd']['cpu']:.1f} |",
        f"| AMA + KD, adapted teacher | {ms['ama']['wall']:.1f} | "
        f"{ms['ama']['cpu']:.1f} |",
        f"| ratio AMA / KD | **{ratio['wall']:.3f}** | "
        f"**{ratio['cpu']:.3f}** |", "",
        "Teacher MACs per image after / before adaptation: "
        f"{result['teacher_macs_ratio']:.3f}.", "",
        f"Command: `{meta['command']}`", ""])


def main(argv):
    del argv
    rounds, steps = (2, 2) if FLAGS.quick else (FLAGS.rounds, FLAGS.steps)
    shape, classes = (28, 28, 1), 10
    keras.utils.set_random_seed(0)
    teacher = kd.models.get(FLAGS.teacher, input_shape=shape,
                            num_classes=classes)
    width = {"base_width": FLAGS.student_width} if FLAGS.student_width else {}

    def student_factory():
        return kd.models.get(FLAGS.student, input_shape=shape,
                             num_classes=classes, **width)

    replacement = kd.adaptation.Replacement(
        start=FLAGS.start, end=FLAGS.end, student_layer=FLAGS.student_layer)
    step_fns, adapted = build_step_fns(teacher, student_factory, replacement,
                                       FLAGS.batch_size)
    cost = adapted.cost()
    seconds = time_steps(step_fns, rounds, steps)
    result = {
        "meta": {
            "teacher": FLAGS.teacher, "start": FLAGS.start, "end": FLAGS.end,
            "student": FLAGS.student + (f" (width {FLAGS.student_width})"
                                        if FLAGS.student_width else ""),
            "batch_size": FLAGS.batch_size, "rounds": rounds, "steps": steps,
            "machine": f"{os.cpu_count()} CPU cores",
            "devices": [d.device_type for d in
                        tf.config.list_logical_devices()],
            "versions": {"tensorflow": tf.__version__,
                         "keras": keras.__version__},
            "command": "python benchmarks/ama_step_time.py "
                       + " ".join(sys.argv[1:]),
        },
        "seconds_per_step": seconds,
        "ratio": {clock: seconds["ama"][clock] / seconds["kd"][clock]
                  for clock in ("wall", "cpu")},
        "teacher_macs": {"before": cost.before.macs,
                         "after": cost.after.macs},
        "teacher_macs_ratio": cost.macs_ratio,
    }
    markdown = to_markdown(result)
    if FLAGS.out_dir:
        atomic_write_text(os.path.join(FLAGS.out_dir, "ama_step_time.json"),
                          json.dumps(result, indent=2))
        atomic_write_text(os.path.join(FLAGS.out_dir, "ama_step_time.md"),
                          markdown)
    print(cost)
    print(markdown)


if __name__ == "__main__":
    app.run(main)
