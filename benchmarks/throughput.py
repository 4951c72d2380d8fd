"""Training throughput: our Distiller against the alternatives, one process.

Measures seconds per training step, same models, same batch, interleaved
rounds (each round runs `--steps` steps of every method in a rotated order;
the median over rounds is reported):

  student            student-only training step (no teacher)
  teacher_inference  teacher forward pass (what a distiller adds)
  kd                 kd_toolkit Distiller, Hinton KD, teacher run live
  kd_cached          kd_toolkit Distiller, Hinton KD from the teacher-output
                     cache (the teacher's logits come with the batch)
  keras_fair         keras.distillation.Distiller with
                     LogitsDistillation(loss=keras.losses.KLDivergence()):
                     the same objective as our KD
  keras_default      keras.distillation.Distiller with LogitsDistillation's
                     default "kl_divergence" string (see docs/keras_kd.md:
                     it skips the softmax and the τ² factor)
  teacher_inference_unfolded / kd_unfolded
                     the teacher's inference and our KD step without batch
                     norm folded into the teacher's convolutions (the
                     Distiller folds it by default; `--nofold_rows` skips
                     these rows)
  ama                kd_toolkit Distiller, KD + activation map adaptation
                     with an adapted teacher (`--noama` skips it)
  <method>           every method of `--loss_methods` (the method registry's
                     recipes: DKD, FitNets, AT, RKD, SP, PKT, CRD, ReviewKD,
                     AMA from the cache), reported as its cost over `kd`;
                     teacher run live, except that methods that train from
                     the teacher-output cache get cached batches
                     ("ama_cached": its adapted teacher still runs), and
                     their speed-up over `kd` and Keras is reported too

Each method but the `--loss_methods` also runs with XLA
(`jit_compile=True`, suffix `_xla`) unless `--noxla`. Ratios are reported
against the same run's figures, and the machine's CPU flags go into the
JSON, because machines of this class differ several-fold.

Reproduce:

```
python -m benchmarks.throughput --rounds=7 --steps=10
```
"""

import dataclasses
import json
import math
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
from benchmarks import accuracy_report
from benchmarks import machine
from benchmarks import timing
from kd_toolkit.distiller import batch_norm_folding
from kd_toolkit.distiller import feature_taps
from kd_toolkit.distiller import teacher_cache
from kd_toolkit.utils.atomic_io import atomic_write_texts

FLAGS = flags.FLAGS


def define_flags():
    """The command line's flags; defined only when run as a script, since
    absl flags are global and the benchmarks share names."""
    flags.DEFINE_string("teacher", "resnet20", "Teacher zoo name.")
    flags.DEFINE_string("student", "resnet8", "Student zoo name.")
    flags.DEFINE_integer("student_width", 8, "Student base_width (0: default).")
    flags.DEFINE_integer("batch_size", 128, "Batch size.")
    flags.DEFINE_integer("rounds", 7, "Interleaved measurement rounds.")
    flags.DEFINE_integer("steps", 10, "Steps per method per round.")
    flags.DEFINE_float("temperature", 4.0, "KD temperature.")
    flags.DEFINE_list(
        "ama_start",
        ["stage3_block1_out"],
        "AMA replacement start cuts (teacher layers).",
    )
    flags.DEFINE_list(
        "ama_end", ["stage3_out"], "AMA replacement end cuts (teacher layers)."
    )
    flags.DEFINE_enum(
        "ama_kind",
        "separable",
        ["separable", "conv"],
        "AMA adapter architecture (ActivationMapAdapter kind).",
    )
    flags.DEFINE_integer(
        "ama_kernel_size", 3, "AMA adapter kernel size.", lower_bound=1
    )
    flags.DEFINE_bool("ama", True, "Also time the adapted-teacher step.")
    flags.DEFINE_bool(
        "fold_rows",
        True,
        "Also time teacher inference and our KD step without batch norm folded "
        "into the teacher's convolutions.",
    )
    flags.DEFINE_list(
        "loss_methods",
        [
            "dkd",
            "fitnets",
            "at",
            "rkd",
            "sp",
            "pkt",
            "crd",
            "review_kd",
            "ama_cached",
        ],
        "Registry methods also timed (no XLA), as cost over kd.",
    )
    flags.DEFINE_integer(
        "review_mid_channels",
        0,
        "Channels of ReviewKD's fused maps (0: the method's default).",
        lower_bound=0,
    )
    flags.DEFINE_bool("xla", True, "Also time every step with XLA.")
    flags.DEFINE_integer(
        "cache_draws",
        8,
        "Draws per example assumed for the amortised cost of "
        "building the teacher-output cache.",
    )
    flags.DEFINE_integer(
        "cache_epochs", 30, "Epochs assumed for the amortised cache cost."
    )
    flags.DEFINE_bool("quick", False, "Smoke run: 2 rounds of 2 steps.")
    flags.DEFINE_string("out_dir", "benchmarks/results", "Output directory.")


def _ce():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _keras_distiller(teacher, student, temperature, fair, jit):
    loss = keras.losses.KLDivergence() if fair else "kl_divergence"
    model = keras.distillation.Distiller(
        teacher=teacher,
        student=student,
        distillation_losses=keras.distillation.LogitsDistillation(
            temperature=temperature, loss=loss
        ),
        student_loss_weight=0.1,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss=_ce(), jit_compile=jit
    )
    return model


def build_steps(
    teacher,
    student_factory,
    batch_size,
    temperature,
    xla,
    adapted_teacher=None,
    ama_loss_factory=None,
    loss_methods=(),
    plan_info=None,
    fold_rows=True,
    review_mid_channels=0,
):
    """Returns {method: zero-arg callable running one step}. `plan_info`,
    a dict, receives each of `loss_methods`' plan info (e.g. the adapted
    teacher's MACs ratio); `fold_rows` adds the rows without batch-norm
    folding; `review_mid_channels` goes to the methods' settings."""
    rng = np.random.default_rng(0)
    shape = (batch_size,) + tuple(teacher.input_shape[1:])
    x = tf.constant(rng.random(shape, dtype="float32"))
    y = tf.constant(rng.integers(0, 10, batch_size), dtype="int32")
    cached_x = {
        teacher_cache.INPUTS_KEY: x,
        teacher_cache.TEACHER_OUTPUTS_KEY: teacher(x),
    }
    steps = {}
    # Teacher inference as the Distiller runs it: batch norm folded.
    folded = batch_norm_folding.fold_batch_norm(teacher)
    for jit in [False, True] if xla else [False]:
        suffix = "_xla" if jit else ""
        alone = student_factory()
        alone.compile(keras.optimizers.Adam(1e-3), _ce(), jit_compile=jit)
        infer = tf.function(
            lambda v: folded(v, training=False), jit_compile=jit
        )
        ours = kd.Distiller(
            teacher,
            student_factory(),
            losses=[kd.losses.KD(temperature, weight=0.9)],
            student_loss_weight=0.1,
        )
        ours.compile(keras.optimizers.Adam(1e-3), jit_compile=jit)
        cached = kd.Distiller(
            teacher,
            student_factory(),
            losses=[kd.losses.KD(temperature, weight=0.9)],
            student_loss_weight=0.1,
        )
        cached.compile(keras.optimizers.Adam(1e-3), jit_compile=jit)
        fair = _keras_distiller(
            teacher, student_factory(), temperature, True, jit
        )
        steps.update(
            {
                "student" + suffix: _bind(alone.train_on_batch, x, y),
                "teacher_inference" + suffix: _bind(_numpy_of, infer, x),
                "kd" + suffix: _bind(ours.train_on_batch, x, y),
                "kd_cached" + suffix: _bind(cached.train_on_batch, cached_x, y),
                "keras_fair" + suffix: _bind(fair.train_on_batch, x, y),
            }
        )
        if not jit:
            default = _keras_distiller(
                teacher, student_factory(), temperature, False, False
            )
            steps["keras_default"] = _bind(default.train_on_batch, x, y)
        if not jit and fold_rows:
            unfolded = kd.Distiller(
                teacher,
                student_factory(),
                losses=[kd.losses.KD(temperature, weight=0.9)],
                student_loss_weight=0.1,
                fold_teacher_batch_norm=False,
            )
            unfolded.compile(keras.optimizers.Adam(1e-3), jit_compile=False)
            infer_unfolded = tf.function(
                lambda v: teacher(v, training=False), jit_compile=False
            )
            steps["teacher_inference_unfolded"] = _bind(
                _numpy_of, infer_unfolded, x
            )
            steps["kd_unfolded"] = _bind(unfolded.train_on_batch, x, y)
        if adapted_teacher is not None:
            ama = kd.Distiller(
                adapted_teacher,
                student_factory(),
                losses=[
                    kd.losses.KD(temperature, weight=0.9),
                    ama_loss_factory(),
                ],
                student_loss_weight=0.1,
            )
            ama.compile(keras.optimizers.Adam(1e-3), jit_compile=jit)
            steps["ama" + suffix] = _bind(ama.train_on_batch, x, y)
    defaults = kd.recipes.MethodSettings()
    settings = kd.recipes.MethodSettings(
        temperature=temperature,
        kd_weight=0.9,
        # Step time does not depend on the adapters' warm-up: skip it.
        ama=dataclasses.replace(defaults.ama, warmup_steps=0),
        ama_cached=dataclasses.replace(defaults.ama_cached, warmup_steps=0),
        review_mid_channels=review_mid_channels,
    )
    for name in loss_methods:
        method = kd.recipes.methods.get(name)
        plan = method.plan(
            settings, teacher, student_factory(), total_steps=1000
        )
        if plan_info is not None:
            plan_info[name] = plan.info
        distiller = kd.Distiller(
            plan.teacher or teacher,
            student_factory(),
            losses=plan.losses,
            student_loss_weight=0.1,
        )
        distiller.compile(keras.optimizers.Adam(1e-3), jit_compile=False)
        batch = cached_x if method.teacher_cache else x
        if method.cached_features:
            taps = feature_taps.build_view(
                teacher, method.cached_features, "teacher"
            )
            batch = {
                **cached_x,
                teacher_cache.TEACHER_FEATURES_KEY: dict(
                    zip(method.cached_features, taps(x)[1:])
                ),
            }
        steps[name] = _bind(distiller.train_on_batch, batch, y)
    return steps


def _bind(fn, *args):
    return lambda: fn(*args)


def _numpy_of(fn, x):
    return fn(x).numpy()


def paired_ratio(num, den):
    """The ratio `num / den` paired by round, with its 95% CI.

    The two steps of a round ran next to each other, so a slow spell of the
    machine falls on both: the per-round ratios vary less than either
    step's times. Returns the geometric mean of the per-round ratios and a
    t interval on their logarithms (`accuracy_report.paired_ci` on the
    rounds' log times: `{"mean", "low", "high", "rounds"}`), or None below
    two rounds.
    """
    ci = accuracy_report.paired_ci(
        dict(enumerate(map(math.log, num))), dict(enumerate(map(math.log, den)))
    )
    if ci["low"] is None:
        return None
    return {
        "mean": math.exp(ci["mean"]),
        "low": math.exp(ci["low"]),
        "high": math.exp(ci["high"]),
        "rounds": ci["n"],
    }


def summarize(times, batch_size, cache_draws, cache_epochs):
    """Median seconds per step, images per second and the ratios."""
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "seconds_per_step": med,
        "images_per_second": {k: batch_size / v for k, v in med.items()},
    }
    ratios = {}
    intervals = {}

    def ratio(name, num, den):
        if num in med and den in med:
            ratios[name] = med[num] / med[den]
            paired = paired_ratio(times[num], times[den])
            if paired is not None:
                intervals[name] = paired

    def fastest(step):
        """`step` or `step_xla`, whichever ran faster."""
        return min((k for k in (step, step + "_xla") if k in med), key=med.get)

    # Speed-ups (> 1: the first is faster) and costs (time ratios).
    keras_best = fastest("keras_fair")
    ours_best = fastest("kd")
    cached_best = fastest("kd_cached")
    student_best = fastest("student")
    ratios["keras_fastest_config"] = keras_best
    ratio("speedup_kd_vs_keras_fastest", keras_best, ours_best)
    ratio("speedup_kd_vs_keras_same_xla", "keras_fair", "kd")
    ratio("speedup_kd_xla_vs_keras_fair_xla", "keras_fair_xla", "kd_xla")
    ratio("speedup_kd_cached_vs_keras_fastest", keras_best, cached_best)
    # Folding batch norm into the teacher's convolutions (both XLA off).
    ratio(
        "speedup_fold_teacher_inference",
        "teacher_inference_unfolded",
        "teacher_inference",
    )
    ratio("speedup_fold_kd", "kd_unfolded", "kd")
    ratio("speedup_kd_unfolded_vs_keras_same_xla", "keras_fair", "kd_unfolded")
    # Amortised: one teacher pass per draw, spread over the epochs.
    infer = med[fastest("teacher_inference")]
    amortised = med[cached_best] + infer * cache_draws / cache_epochs
    ratios["speedup_kd_cached_amortised_vs_keras_fastest"] = (
        med[keras_best] / amortised
    )
    ratio("speedup_xla_student", "student", "student_xla")
    ratio(
        "speedup_xla_teacher_inference",
        "teacher_inference",
        "teacher_inference_xla",
    )
    ratio("speedup_xla_kd", "kd", "kd_xla")
    ratio("speedup_xla_keras_fair", "keras_fair", "keras_fair_xla")
    ratio("cost_kd_over_student", ours_best, student_best)
    ratio("cost_kd_cached_over_student", cached_best, student_best)
    if "ama" in med:
        ratio("speedup_ama_vs_kd", ours_best, fastest("ama"))
        ratio("speedup_ama_vs_kd_same_xla", "kd", "ama")
    for name in med:
        if name in kd.recipes.methods.names() and name not in ("kd", "ama"):
            ratio(f"cost_{name}_over_kd", name, "kd")
            method = kd.recipes.methods.get(name)
            if method.teacher_cache and not method.logits_only:
                ratio(f"speedup_{name}_vs_kd", ours_best, name)
                ratio(f"speedup_{name}_vs_keras_fastest", keras_best, name)
                ratio(f"cost_{name}_over_kd_cached", name, cached_best)
    result["ratios"] = ratios
    result["ratio_intervals"] = intervals
    result["amortised_cache"] = {"draws": cache_draws, "epochs": cache_epochs}
    return result


def to_markdown(result, meta):
    lines = [
        f"Throughput, batch {meta['batch_size']}, teacher `{meta['teacher']}`"
        f", student `{meta['student']}`, {meta['machine']} (CPU flags: "
        f"{', '.join(meta['cpu_flags']) or 'none found'}), "
        f"{meta['rounds']} interleaved rounds × {meta['steps']} steps "
        "(median).",
        "",
        "| step | ms/step | images/s |",
        "|---|---|---|",
    ]
    for k, v in result["seconds_per_step"].items():
        lines.append(
            f"| {k} | {1000 * v:.1f} | {result['images_per_second'][k]:.0f} |"
        )
    lines += [
        "",
        "| ratio | value (of medians) | paired by round: mean [95% CI] |",
        "|---|---|---|",
    ]
    intervals = result.get("ratio_intervals", {})
    for k, v in result["ratios"].items():
        value = f"{v:.3f}" if isinstance(v, float) else str(v)
        paired = intervals.get(k)
        ci = (
            f"{paired['mean']:.3f} [{paired['low']:.3f}, {paired['high']:.3f}]"
            if paired
            else "-"
        )
        lines.append(f"| {k} | {value} | {ci} |")
    cache = result["amortised_cache"]
    lines += [
        "",
        f"Amortised cache cost: {cache['draws']} teacher passes "
        f"over the data spread over {cache['epochs']} epochs.",
        "",
        f"Command: `{meta['command']}`",
        "",
    ]
    return "\n".join(lines)


def _adaptation(teacher):
    """Adapted teacher + AMA loss factory, or (None, None) without --ama."""
    if not FLAGS.ama:
        return None, None
    from kd_toolkit import adaptation

    replacements = [
        adaptation.Replacement(
            start=start,
            end=end,
            student_layer=_student_layer(end),
            kind=FLAGS.ama_kind,
            kernel_size=FLAGS.ama_kernel_size,
        )
        for start, end in zip(FLAGS.ama_start, FLAGS.ama_end)
    ]
    adapted = adaptation.adapt_teacher(teacher, replacements=replacements)
    print(adapted.cost())
    return adapted, lambda: kd.losses.ActivationMapAdaptation(
        adapted.replacements
    )


def _student_layer(end):
    """The student stage output at the resolution of a teacher cut."""
    return end.split("_")[0] + "_out"


def main(argv):
    del argv
    rounds, n = (2, 2) if FLAGS.quick else (FLAGS.rounds, FLAGS.steps)
    shape, classes = (28, 28, 1), 10
    keras.utils.set_random_seed(0)
    teacher = kd.models.get(
        FLAGS.teacher, input_shape=shape, num_classes=classes
    )
    width = {"base_width": FLAGS.student_width} if FLAGS.student_width else {}

    def student_factory():
        return kd.models.get(
            FLAGS.student, input_shape=shape, num_classes=classes, **width
        )

    adapted, ama_loss = _adaptation(teacher)
    plan_info = {}
    steps = build_steps(
        teacher,
        student_factory,
        FLAGS.batch_size,
        FLAGS.temperature,
        FLAGS.xla,
        adapted and adapted.model,
        ama_loss,
        FLAGS.loss_methods,
        plan_info,
        FLAGS.fold_rows,
        FLAGS.review_mid_channels,
    )
    result = summarize(
        timing.interleaved(steps, rounds, n),
        FLAGS.batch_size,
        FLAGS.cache_draws,
        FLAGS.cache_epochs,
    )
    if adapted is not None:
        cost = adapted.cost()
        result["ratios"]["adapted_teacher_macs_ratio"] = cost.macs_ratio
        result["ratios"]["adapted_teacher_params_ratio"] = cost.params_ratio
    for name, info in plan_info.items():
        if "adapted_teacher_macs_ratio" in info:
            result["ratios"][f"{name}_adapted_teacher_macs_ratio"] = info[
                "adapted_teacher_macs_ratio"
            ]
    meta = {
        "teacher": FLAGS.teacher,
        "student": FLAGS.student
        + (f" (width {FLAGS.student_width})" if FLAGS.student_width else ""),
        "batch_size": FLAGS.batch_size,
        "rounds": rounds,
        "steps": n,
        "machine": machine.description(),
        "cpu_flags": machine.cpu_flags(),
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
        "date": time.strftime("%Y-%m-%d"),
        "command": "python -m benchmarks.throughput " + " ".join(sys.argv[1:]),
    }
    markdown = to_markdown(result, meta)
    os.makedirs(FLAGS.out_dir, exist_ok=True)
    atomic_write_texts(
        {
            os.path.join(FLAGS.out_dir, "throughput.json"): json.dumps(
                {"meta": meta, **result}, indent=2
            ),
            os.path.join(FLAGS.out_dir, "throughput.md"): markdown,
        },
        overwrite=True,
    )
    print(markdown)


if __name__ == "__main__":
    define_flags()
    app.run(main)
