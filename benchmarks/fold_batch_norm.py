"""Teacher inference with and without batch norm folded into the convs.

The `Distiller` runs a frozen teacher through `fold_batch_norm`'s graph (and
the teacher-output cache is built with it). This measures what that saves
per architecture, in one process with interleaved rounds (each round runs
`--steps` inference calls of every row in a rotated order; medians over
rounds):

  resnet20            the shipped Fashion-MNIST teacher, 28×28×1
  mobilenet_tiny      kd_toolkit's MobileNet-style zoo model, 28×28×1
  mobilenet_v2        keras.applications.MobileNetV2, α 0.35, 96×96×3

Reproduce:

```
python -m benchmarks.fold_batch_norm --rounds=9 --steps=5
```
"""

import json
import os
import statistics
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf
from absl import app
from absl import flags

import kd_toolkit as kd
from benchmarks import machine
from benchmarks import timing
from kd_toolkit.distiller import batch_norm_folding
from kd_toolkit.utils.atomic_io import atomic_write_texts

FLAGS = flags.FLAGS


def define_flags():
    """The command line's flags; defined only when run as a script, since
    absl flags are global and other benchmarks share these names."""
    flags.DEFINE_integer("batch_size", 64, "Inference batch size.")
    flags.DEFINE_integer("rounds", 9, "Interleaved measurement rounds.")
    flags.DEFINE_integer("steps", 5, "Inference calls per row per round.")
    flags.DEFINE_bool("quick", False, "Smoke run: 2 rounds of 1 call.")
    flags.DEFINE_string(
        "out_dir",
        "benchmarks/results/fold_batch_norm",
        "Where fold_batch_norm.json and fold_batch_norm.md go.",
    )


def teachers():
    """{name: model}: the architectures measured."""
    return {
        "resnet20": kd.pretrained.load("fashion_mnist_resnet20"),
        "mobilenet_tiny": kd.models.get(
            "mobilenet_tiny", input_shape=(28, 28, 1), num_classes=10
        ),
        "mobilenet_v2": keras.applications.MobileNetV2(
            input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=10
        ),
    }


def build_rows(models, batch_size):
    """{row: zero-arg callable} with `<name>` (folded) and
    `<name>_unfolded` rows, plus {name: number of folded pairs}."""
    rows, pairs = {}, {}
    rng = np.random.default_rng(0)
    for name, model in models.items():
        shape = (batch_size,) + tuple(model.input_shape[1:])
        x = tf.constant(rng.random(shape, dtype="float32"))
        folded = batch_norm_folding.fold_batch_norm(model)
        pairs[name] = len(batch_norm_folding.foldable_pairs(model))
        for row, net in ((name, folded), (name + "_unfolded", model)):
            infer = tf.function(lambda v, net=net: net(v, training=False))
            rows[row] = lambda infer=infer, x=x: infer(x).numpy()
    return rows, pairs


def summarize(times, pairs):
    """Median ms per call, and each architecture's speed-up from folding."""
    med = {k: 1000 * statistics.median(v) for k, v in times.items()}
    return {
        name: {
            "folded_pairs": count,
            "ms_folded": med[name],
            "ms_unfolded": med[name + "_unfolded"],
            "speedup": med[name + "_unfolded"] / med[name],
        }
        for name, count in pairs.items()
    }


def to_markdown(result, meta):
    lines = [
        f"Teacher inference, batch {meta['batch_size']}, "
        f"{meta['machine']} (CPU flags: {', '.join(meta['cpu_flags'])}), "
        f"{meta['rounds']} interleaved rounds × {meta['steps']} calls "
        "(median).",
        "",
        "| teacher | folded pairs | ms unfolded | ms folded | speed-up |",
        "|---|---|---|---|---|",
    ]
    for name, row in result.items():
        lines.append(
            f"| {name} | {row['folded_pairs']} | {row['ms_unfolded']:.1f} | "
            f"{row['ms_folded']:.1f} | {row['speedup']:.3f}× |"
        )
    lines += ["", f"Command: `{meta['command']}`", ""]
    return "\n".join(lines)


def run(models, batch_size, rounds, steps, out_dir, command):
    """Measures `models`, prints the table and writes
    `<out_dir>/fold_batch_norm.{json,md}` atomically; returns the result."""
    rows, pairs = build_rows(models, batch_size)
    times = timing.interleaved(rows, rounds, steps, warm_up=2)
    result = summarize(times, pairs)
    meta = {
        "batch_size": batch_size,
        "rounds": rounds,
        "steps": steps,
        "machine": machine.description(),
        "cpu_flags": machine.cpu_flags(),
        "command": command,
    }
    markdown = to_markdown(result, meta)
    print(markdown)
    os.makedirs(out_dir, exist_ok=True)
    atomic_write_texts(
        {
            os.path.join(out_dir, "fold_batch_norm.json"): json.dumps(
                {"meta": meta, "result": result}, indent=2
            ),
            os.path.join(out_dir, "fold_batch_norm.md"): markdown,
        },
        overwrite=True,
    )
    return result


def main(argv):
    del argv
    rounds, n = (2, 1) if FLAGS.quick else (FLAGS.rounds, FLAGS.steps)
    run(
        teachers(),
        FLAGS.batch_size,
        rounds,
        n,
        FLAGS.out_dir,
        "python -m benchmarks.fold_batch_norm " + " ".join(sys.argv[1:]),
    )


if __name__ == "__main__":
    define_flags()
    app.run(main)
