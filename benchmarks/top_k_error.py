"""What storing only the top-k teacher logits does to the KD term.

`ShardedTeacherCache(top_k=k)` keeps the k largest logits of each view
and the log-sum-exp of the rest, and rebuilds the left-out logits evenly
(`sharded_cache.rebuild_logits`). This measures, on the Fashion-MNIST test
set with the shipped teacher (resnet20, 93.1%) and the shipped distilled
student (resnet8), the KD term `τ² KL(softmax(t/τ) ‖ softmax(s/τ))` from
the rebuilt logits against the exact one, per k and τ: the mean relative
error of the per-example term and the error of the batch mean.

Reproduce:

```
python -m benchmarks.top_k_error
```
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from absl import app
from absl import flags

import kd_toolkit as kd
from benchmarks import machine
from kd_toolkit.distiller import shard_build
from kd_toolkit.distiller import sharded_cache
from kd_toolkit.utils.atomic_io import atomic_write_texts

FLAGS = flags.FLAGS


def define_flags():
    """The command line's flags; defined only when run as a script, since
    absl flags are global and the benchmarks share names."""
    flags.DEFINE_string(
        "out", "benchmarks/results/top_k_error", "Output path without suffix."
    )
    flags.DEFINE_list("k", ["1", "2", "3", "5"], "Kept logits per view.")
    flags.DEFINE_list("temperatures", ["1", "2", "4"], "KD temperatures.")


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def kd_term(teacher, student, tau):
    """Per-example `τ² KL(softmax(t/τ) ‖ softmax(s/τ))`, float64."""
    log_p = _log_softmax(teacher / tau)
    log_q = _log_softmax(student / tau)
    return tau**2 * (np.exp(log_p) * (log_p - log_q)).sum(-1)


def rebuilt(logits, k):
    values, indices, rest = shard_build.top_k(logits[:, None], k)
    return sharded_cache.rebuild_logits(
        values[:, 0], indices[:, 0], rest[:, 0], logits.shape[-1]
    ).astype(np.float64)


def main(argv):
    del argv
    x, _ = kd.data.load_numpy("fashion_mnist", "test")
    teacher = kd.pretrained.load("fashion_mnist_resnet20")
    student = kd.pretrained.load("fashion_mnist_resnet8_kd")
    t = np.asarray(teacher.predict(x, batch_size=500, verbose=0), np.float64)
    s = np.asarray(student.predict(x, batch_size=500, verbose=0), np.float64)
    rows = []
    for tau in (float(v) for v in FLAGS.temperatures):
        exact = kd_term(t, s, tau)
        for k in (int(v) for v in FLAGS.k):
            approx = kd_term(rebuilt(t, k), s, tau)
            rows.append(
                {
                    "temperature": tau,
                    "k": k,
                    "classes": t.shape[-1],
                    "exact_mean": float(exact.mean()),
                    "top_k_mean": float(approx.mean()),
                    "mean_relative_error": float(
                        np.mean(
                            np.abs(approx - exact) / np.maximum(exact, 1e-12)
                        )
                    ),
                    "batch_mean_relative_error": float(
                        abs(approx.mean() - exact.mean()) / exact.mean()
                    ),
                }
            )
    command = "python -m benchmarks.top_k_error " + " ".join(sys.argv[1:])
    result = {
        "command": command.strip(),
        "machine": machine.description(),
        "examples": len(x),
        "rows": rows,
    }
    lines = [
        "# KD term from top-k logits against exact logits",
        "",
        f"Fashion-MNIST test set ({len(x)} images), shipped resnet20 teacher "
        "and resnet8 student, 10 classes. Command: "
        f"`{result['command']}`.",
        "",
        "| τ | k | exact KD (mean) | top-k KD (mean) | per-example relative "
        "error (mean) | error of the mean |",
        "|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r['temperature']:g} | {r['k']} | {r['exact_mean']:.5f} | "
            f"{r['top_k_mean']:.5f} | {100 * r['mean_relative_error']:.2f}% | "
            f"{100 * r['batch_mean_relative_error']:.2f}% |"
            for r in rows
        ),
    ]
    atomic_write_texts(
        {
            f"{FLAGS.out}.json": json.dumps(result, indent=2) + "\n",
            f"{FLAGS.out}.md": "\n".join(lines) + "\n",
        },
        overwrite=True,
    )
    print("\n".join(lines))


if __name__ == "__main__":
    define_flags()
    app.run(main)
