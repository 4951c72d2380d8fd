"""Accuracy benchmark (protocol v2): does distillation pay off, and by how much?

Fashion-MNIST; the shipped teacher (`kd_toolkit.pretrained`); one student
architecture; every method from the same student seeds with the same epochs,
optimizer (Adam, cosine decay) and data: the full training set, with the
teacher and the student seeing the same pad-crop-flip view ("consistent
teaching"), replayed from the teacher-output cache so that for seed s every
method sees the same views in the same order (paired seeds):

  alone          student trained alone (cross-entropy)
  kd_live        Hinton KD (ours), teacher run every step (same objective
                 as kd, which reads the teacher's logits from the cache)
  keras_fair     keras.distillation.Distiller, LogitsDistillation with a
                 keras.losses.KLDivergence() object: the same objective
  keras_default  keras.distillation.Distiller with LogitsDistillation's
                 default "kl_divergence" string (docs/keras_kd.md)

and every method of kd_toolkit's registry (`kd_toolkit.recipes.methods`,
the same code `kd-train --method=...` runs): kd, kd_ls, dkd (logits from
the cache), fitnets, at, rkd, sp, pkt and ama (each with KD).

Each (method, seed) run writes its own JSON under
`benchmarks/results/runs/<tag>/` when it finishes; a rerun skips finished
runs, so the benchmark survives interruption. The aggregation (table with
paired 95% confidence intervals, convergence, PNG) is rebuilt from
whatever runs exist, marking missing ones; `--pages=docs/results.md`
also writes the table into that page (between its `<!-- results:<tag>
-->` lines), which `run_v2.sh` and `run_v3.sh` do after each run.
`--tune` evaluates on a validation split (the last 10k training images;
students train on the first 50k), never the test set.

Reproduce the tables of docs/results.md (in the background; resumable):

```
bash benchmarks/run_v3.sh   # v2: run_v2.sh; a row: --methods=kd --seeds=0
```

Smoke run (also in the test suite): `python -m benchmarks.accuracy --quick`.
"""

import collections
import dataclasses
import datetime
import functools
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf
from absl import app
from absl import flags

import kd_toolkit as kd
from benchmarks import accuracy_methods as am
from benchmarks import accuracy_report
from benchmarks import labels
from benchmarks import machine
from kd_toolkit.utils.atomic_io import atomic_write_text

FLAGS = flags.FLAGS
_M = kd.recipes.MethodSettings()  # the defaults of kd-train


def define_flags():
    """The command line's flags; defined only when run as a script, since
    absl flags are global and the benchmarks share names."""
    flags.DEFINE_bool("quick", False, "Smoke run: tiny student and data.")
    flags.DEFINE_list(
        "methods",
        ["alone", "kd", "keras_fair", "ama"],
        f"Methods to run, of {list(am.METHOD_NAMES)}.",
    )
    flags.DEFINE_list("seeds", ["0", "1", "2", "3", "4"], "Student seeds.")
    flags.DEFINE_string(
        "teacher",
        "fashion_mnist_resnet20",
        "Shipped teacher (kd_toolkit.pretrained.names()).",
    )
    flags.DEFINE_string("student", "resnet8", "Student zoo name.")
    flags.DEFINE_integer("student_width", 8, "Student base_width (0: default).")
    flags.DEFINE_integer("epochs", 20, "Student epochs.")
    flags.DEFINE_integer(
        "train_limit",
        0,
        "Students train on the first N training images (0: all"
        ", or the first 50k with --tune).",
    )
    flags.DEFINE_integer("test_limit", 0, "Evaluate on N images (0: all).")
    flags.DEFINE_integer(
        "labeled",
        0,
        "Protocol v3's few labels: only N training images keep their label "
        "(N / 10 per class, the same images for every seed and method); the "
        "others are unlabeled (-1) and teach through the distillation terms "
        "alone. The student alone trains on the N labeled images. 0: all "
        "labeled.",
        lower_bound=0,
    )
    flags.DEFINE_integer(
        "alone_steps",
        0,
        "With --labeled: the student alone's steps per epoch over its N "
        "labeled images, repeated (0: the distilled students' steps per "
        "epoch over the whole training set).",
        lower_bound=0,
    )
    flags.DEFINE_integer("batch_size", 128, "Batch size.")
    flags.DEFINE_float("learning_rate", 2e-3, "Peak Adam learning rate.")
    flags.DEFINE_integer(
        "cache_draws",
        8,
        "Augmented views per training image in the teacher-"
        "output cache (shared by every method and seed).",
    )
    flags.DEFINE_float(
        "temperature",
        _M.temperature,
        "KD temperature (validation search: tune_kd_search.md).",
    )
    flags.DEFINE_float(
        "kd_weight", _M.kd_weight, "KD weight (hard labels: 1 - it)."
    )
    # The --ama_* flags override the settings of both AMA methods ("ama" and
    # "ama_cached"); unset, each method keeps its own defaults (shown: "ama").
    flags.DEFINE_list(
        "ama_start", list(_M.ama.start), "AMA start cuts, one per replacement."
    )
    flags.DEFINE_list(
        "ama_end", list(_M.ama.end), "AMA end cuts, one per replacement."
    )
    flags.DEFINE_list(
        "ama_student_layer",
        list(_M.ama.student_layer),
        "Student layer each adapter supervises.",
    )
    flags.DEFINE_float(
        "ama_map_weight", _M.ama.map_weight, "AMA student map-loss weight."
    )
    flags.DEFINE_float(
        "ama_gamma", _M.ama.gamma, "AMA adapter map-loss weight γ."
    )
    flags.DEFINE_integer(
        "ama_warmup_steps", _M.ama.warmup_steps, "AMA adapter warm-up steps."
    )
    flags.DEFINE_enum(
        "ama_kind",
        _M.ama.kind,
        ["separable", "conv"],
        "AMA adapter architecture (ActivationMapAdapter kind).",
    )
    flags.DEFINE_integer(
        "ama_kernel_size",
        _M.ama.kernel_size,
        "AMA adapter kernel size.",
        lower_bound=1,
    )
    flags.DEFINE_bool(
        "ama_local_gradients",
        _M.ama.local_gradients,
        "Each AMA adapter learns from its own terms only.",
    )
    flags.DEFINE_float(
        "dkd_temperature", _M.dkd_temperature, "DKD temperature (paper: 4)."
    )
    flags.DEFINE_float(
        "dkd_beta", _M.dkd_beta, "DKD non-target weight β (paper: 8)."
    )
    flags.DEFINE_float(
        "ls_temperature",
        _M.ls_temperature,
        "Base temperature of KD on standardized logits, kd_ls (paper: 2).",
    )
    flags.DEFINE_integer(
        "review_mid_channels",
        _M.review_mid_channels,
        "Channels of ReviewKD's fused maps (0: the loss's default).",
        lower_bound=0,
    )
    flags.DEFINE_bool(
        "tune",
        False,
        "Evaluate on the last 10k training images instead of test.",
    )
    flags.DEFINE_string("tag", "v2", "Name of this protocol's run folder.")
    flags.DEFINE_string(
        "cache_dir", "benchmarks/cache", "Teacher-output cache folder."
    )
    flags.DEFINE_string(
        "backup_dir",
        "benchmarks/cache/backups",
        "Each unfinished run is backed up after every epoch to "
        "<backup_dir>/<tag>/<method>-seed<seed>/; a rerun goes on from the "
        "last finished epoch ('': no backups).",
    )
    flags.DEFINE_string(
        "runs_dir",
        "benchmarks/results/runs",
        "Per-run result files go to <runs_dir>/<tag>/.",
    )
    flags.DEFINE_string(
        "out_dir",
        "benchmarks/results",
        "Aggregated table, JSON and PNG: <out_dir>/accuracy_<tag>.*",
    )
    flags.DEFINE_list(
        "pages",
        [],
        "Also write the table into these Markdown pages (README.md, "
        "docs/results.md) between their `<!-- results:<tag> -->` and "
        "`<!-- /results:<tag> -->` lines (none: only <out_dir>).",
    )
    flags.DEFINE_bool(
        "aggregate_only",
        False,
        "Only rebuild the table from the finished runs.",
    )
    flags.DEFINE_bool(
        "cache_only",
        False,
        "Only build (or check) the teacher-output cache every run reads, "
        "then stop: `run_v3.sh` does so once before its workers start, so "
        "they do not build the same file side by side.",
    )
    flags.DEFINE_bool(
        "report_gap",
        False,
        "Add the share of the teacher-minus-alone gap each method recovers "
        "to the table (protocol v3).",
    )
    flags.DEFINE_integer(
        "threads",
        0,
        "TensorFlow threads per op (0: its default, every core). With "
        "JOBS=2, `run_v2.sh` runs two single-thread runs at a time: the small "
        "convolutions here use a second thread poorly, so on 2 cores that "
        "finishes more runs per hour. The thread count goes into each run's "
        "machine line (its seconds per epoch are not comparable with a "
        "two-thread run's).",
        lower_bound=0,
    )


DATASET = "fashion_mnist"
VALIDATION_SIZE = 10000


def _apply_quick():
    if not FLAGS.quick:
        return
    FLAGS.seeds = ["0"]
    FLAGS.methods = ["alone", "kd"]
    FLAGS.student, FLAGS.student_width, FLAGS.epochs = "resnet8", 4, 1
    FLAGS.train_limit, FLAGS.test_limit, FLAGS.cache_draws = 512, 256, 2
    FLAGS.tag = "quick"


def _data():
    """`(x_train, y_train, evaluation dataset, train-eval dataset)`."""
    x, y = kd.data.load_numpy(DATASET, "train")
    limit = FLAGS.train_limit or None
    if FLAGS.tune:
        if (limit or 0) > len(y) - VALIDATION_SIZE:
            raise ValueError(
                "--tune keeps the last 10000 training images for validation;"
                f" --train_limit must be <= {len(y) - VALIDATION_SIZE}. "
                f"Received: train_limit={FLAGS.train_limit}"
            )
        x_eval, y_eval = x[-VALIDATION_SIZE:], y[-VALIDATION_SIZE:]
        x, y = (
            x[: limit or len(y) - VALIDATION_SIZE],
            y[: limit or len(y) - VALIDATION_SIZE],
        )
    else:
        x_eval, y_eval = kd.data.load_numpy(DATASET, "test")
        x, y = x[:limit], y[:limit]
    if FLAGS.test_limit:
        x_eval, y_eval = x_eval[: FLAGS.test_limit], y_eval[: FLAGS.test_limit]
    evaluation = tf.data.Dataset.from_tensor_slices((x_eval, y_eval)).batch(512)
    train_eval = tf.data.Dataset.from_tensor_slices((x, y)).batch(512)
    return x, y, evaluation, train_eval


def _ama_settings(default):
    """An AMA method's settings: its defaults, with the `--ama_*` flags
    given on the command line applied on top."""
    given = {
        f.name: getattr(FLAGS, f"ama_{f.name}")
        for f in dataclasses.fields(default)
        if FLAGS[f"ama_{f.name}"].present
    }
    return dataclasses.replace(
        default,
        **{k: tuple(v) if isinstance(v, list) else v for k, v in given.items()},
    )


def _settings(info, num_train):
    return am.Settings(
        student=FLAGS.student,
        student_width=FLAGS.student_width or None,
        input_shape=info.input_shape,
        num_classes=info.num_classes,
        epochs=FLAGS.epochs,
        steps_per_epoch=-(-num_train // FLAGS.batch_size),
        learning_rate=FLAGS.learning_rate,
        method=kd.recipes.MethodSettings(
            temperature=FLAGS.temperature,
            kd_weight=FLAGS.kd_weight,
            dkd_temperature=FLAGS.dkd_temperature,
            dkd_beta=FLAGS.dkd_beta,
            ls_temperature=FLAGS.ls_temperature,
            review_mid_channels=FLAGS.review_mid_channels,
            ama=_ama_settings(_M.ama),
            ama_cached=_ama_settings(_M.ama_cached),
        ),
    )


def _description(meta):
    s = meta["settings"]
    width = f" width {s['student_width']}" if s["student_width"] else ""
    # The temperatures of the methods that have their own, and DKD's β.
    methods = meta.get("methods", ())
    own = "".join(
        f", {m} τ = {accuracy_report.temperature(m, s)}"
        for m in accuracy_report.TEMPERATURE_SETTING
        if m in methods
    )
    if "dkd" in methods:
        own += f", dkd β = {s['dkd_beta']}"
    return (
        f"Protocol `{meta['tag']}`: Fashion-MNIST, evaluated on the "
        f"{meta['evaluation']}. Teacher `{meta['teacher']}` (shipped, top-1 "
        f"{100 * meta['teacher_accuracy']:.2f}%). Student `{s['student']}`"
        f"{width}, {s['epochs']} epochs on {meta['train_images']:,} training "
        f"images{_labels_text(meta)} with pad-crop-flip views shared by "
        "teacher and student "
        f"({meta['cache_draws']} cached views per image), Adam "
        f"{s['learning_rate']} cosine, batch {FLAGS.batch_size}, KD τ = "
        f"{s['temperature']}, α = {s['kd_weight']}{own}. Runs: "
        f"{meta.get('run_machines') or _machine(meta)}."
    )


def _labels_text(meta):
    n = meta.get("labeled")
    if not n:
        return ""
    return (
        f", of which only {n:,} keep their label ({n // 10} per class; the "
        "others teach through the distillation terms alone, and the "
        f"student alone trains on the {n:,} labeled images, "
        f"{meta['alone_steps_per_epoch']} steps per epoch)"
    )


def _machine(row):
    return f"{row['machine']} (CPU flags {', '.join(row['cpu_flags'])})"


def _run_machines(runs):
    """Where the run files were measured: each machine kind and its count
    (a table can gather runs from several sessions' machines)."""
    counts = collections.Counter(
        _machine(row)
        for by_seed in runs.values()
        for row in by_seed.values()
        if "cpu_flags" in row
    )
    return "; ".join(
        f"{m}: {n} run{'s' if n > 1 else ''}" for m, n in counts.most_common()
    )


def aggregate(run_dir, meta):
    runs = accuracy_report.load_runs(run_dir)
    meta = dict(meta, run_machines=_run_machines(runs))
    meta["description"] = _description(meta)
    result = {
        "meta": meta,
        "summary": accuracy_report.summarize(
            runs,
            teacher_accuracy=(
                meta["teacher_accuracy"] if meta.get("report_gap") else None
            ),
        ),
    }
    print(accuracy_report.to_markdown(result))
    if FLAGS.tune:  # searches are summarised by benchmarks.tune_summary
        return result
    paths = accuracy_report.write(
        result, FLAGS.out_dir, f"accuracy_{FLAGS.tag}"
    )
    for page in FLAGS.pages:
        accuracy_report.update_page(page, result)
        paths.append(page)
    print("wrote " + ", ".join(paths))
    return result


def main(argv):
    del argv
    _apply_quick()
    if FLAGS.threads:
        tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
        tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
    if FLAGS.pages and FLAGS.tune:
        raise app.UsageError(
            "--pages take the test-set table; --tune runs are summarised "
            f"by benchmarks.tune_summary. Received: pages={FLAGS.pages!r}, "
            "tune=True"
        )
    for page in FLAGS.pages:
        # Before any run: a page without the table's markers fails now.
        accuracy_report.page_with(page, FLAGS.tag, "")
    unknown = sorted(set(FLAGS.methods) - set(am.METHOD_NAMES))
    if unknown:
        raise app.UsageError(
            f"Unknown methods {unknown}. Expected a subset of "
            f"{list(am.METHOD_NAMES)}. Received: methods={FLAGS.methods}"
        )
    info = kd.data.dataset_info(DATASET)
    x, y, eval_ds, train_eval_ds = _data()
    # Protocol v3's few labels: the distilled students see every training
    # image, labeled or not; the student alone sees the labeled ones.
    y_train, labeled_ids = y, None
    if FLAGS.labeled:
        labeled_ids = labels.labeled_subset(y, FLAGS.labeled, info.num_classes)
        y_train = np.full_like(y, kd.data.UNLABELED)
        y_train[labeled_ids] = y[labeled_ids]
    teacher = kd.pretrained.load(FLAGS.teacher)
    run_dir = os.path.join(FLAGS.runs_dir, FLAGS.tag)
    os.makedirs(run_dir, exist_ok=True)
    settings = _settings(info, len(y))
    alone_settings = settings
    if FLAGS.labeled:
        alone_settings = dataclasses.replace(
            settings,
            steps_per_epoch=FLAGS.alone_steps or settings.steps_per_epoch,
        )
    meta = {
        "tag": FLAGS.tag,
        "teacher": FLAGS.teacher,
        "teacher_accuracy": am.evaluate(teacher, eval_ds)[0],
        "evaluation": (
            "validation split (last 10k training images)"
            if FLAGS.tune
            else "Fashion-MNIST test set"
        ),
        "train_images": len(y),
        "cache_draws": FLAGS.cache_draws,
        "labeled": FLAGS.labeled,
        "alone_steps_per_epoch": alone_settings.steps_per_epoch,
        "report_gap": FLAGS.report_gap,
        "settings": settings.to_json(),
        "methods": list(FLAGS.methods),
        # The seeds planned: a table says "runs missing" below this count.
        "seeds": [int(seed) for seed in FLAGS.seeds],
        "machine": machine.description()
        + (f", {FLAGS.threads} thread(s) per run" if FLAGS.threads else ""),
        "cpu_flags": machine.cpu_flags(),
        "command": "python -m benchmarks.accuracy " + " ".join(sys.argv[1:]),
    }
    meta["description"] = _description(meta)
    if FLAGS.aggregate_only:
        aggregate(run_dir, meta)
        return

    os.makedirs(FLAGS.cache_dir, exist_ok=True)
    tag = f"{DATASET}-{'tune' if FLAGS.tune else 'train'}{len(y)}"
    caches = {}

    def cache_for(features):
        """The teacher-output cache holding `features` besides the logits
        (one file per feature set; every file has the same views)."""
        if features not in caches:
            suffix = "".join(f"-{n}" for n in features)
            caches[features] = kd.TeacherLogitsCache.get_or_build(
                kd.distiller.teacher_cache.default_path(
                    os.path.join(FLAGS.cache_dir, f"{FLAGS.teacher}.keras"),
                    f"{tag}-d{FLAGS.cache_draws}{suffix}",
                ),
                teacher,
                x,
                augment=kd.data.augment_spec(DATASET),
                draws=FLAGS.cache_draws,
                feature_layers=features,
            )
            first = caches[()]
            for part in ("rows", "cols", "mirror"):
                if not np.array_equal(
                    getattr(first, part), getattr(caches[features], part)
                ):
                    raise ValueError(
                        f"The cache with features {list(features)} holds "
                        f"other views ({part}) than the logits-only cache; "
                        "delete both files to rebuild them."
                    )
        return caches[features]

    start = time.perf_counter()
    cache_for(())
    meta["cache_seconds_this_run"] = time.perf_counter() - start
    if FLAGS.cache_only:
        return

    def make_train_ds(seed, with_teacher_outputs, features=()):
        cache = cache_for(features if with_teacher_outputs else ())
        return cache.dataset(
            x,
            y_train,
            FLAGS.batch_size,
            seed=seed,
            with_teacher_outputs=with_teacher_outputs,
        )

    def make_labeled_ds(seed, with_teacher_outputs):
        """The N labeled images' views, repeated (the student alone's
        data under --labeled), from a cache of those images alone."""
        del with_teacher_outputs
        x_l, y_l = x[labeled_ids], y[labeled_ids]
        cache = kd.TeacherLogitsCache.get_or_build(
            kd.distiller.teacher_cache.default_path(
                os.path.join(FLAGS.cache_dir, f"{FLAGS.teacher}.keras"),
                f"{tag}-labeled{FLAGS.labeled}-d{FLAGS.cache_draws}",
            ),
            teacher,
            x_l,
            augment=kd.data.augment_spec(DATASET),
            draws=FLAGS.cache_draws,
        )
        return cache.dataset(
            x_l, y_l, FLAGS.batch_size, seed=seed, with_teacher_outputs=False
        ).repeat()

    for seed in [int(s) for s in FLAGS.seeds]:
        for method in FLAGS.methods:
            path = os.path.join(run_dir, f"{method}-seed{seed}.json")
            if os.path.exists(path):
                print(f"skip {method} seed {seed}: {path} exists", flush=True)
                continue
            print(f"run {method} seed {seed}", flush=True)
            features = (
                kd.recipes.methods.get(method).cached_features
                if method in kd.recipes.methods.names()
                else ()
            )
            few_labels = FLAGS.labeled and method == "alone"
            row = am.train(
                method,
                alone_settings if few_labels else settings,
                teacher,
                seed,
                make_labeled_ds
                if few_labels
                else functools.partial(make_train_ds, features=features),
                eval_ds,
                train_eval_ds,
                steps_per_epoch=(
                    alone_settings.steps_per_epoch if few_labels else None
                ),
                backup_dir=FLAGS.backup_dir
                and os.path.join(
                    FLAGS.backup_dir, FLAGS.tag, f"{method}-seed{seed}"
                ),
            )
            row.update(
                method=method,
                cached_teacher_features=(
                    list(features) if row["uses_cached_teacher_logits"] else []
                ),
                settings=(alone_settings if few_labels else settings).to_json(),
                labeled=FLAGS.labeled,
                tag=FLAGS.tag,
                machine=meta["machine"],
                cpu_flags=meta["cpu_flags"],
                date=datetime.datetime.now().isoformat(timespec="seconds"),
                command=meta["command"],
            )
            atomic_write_text(path, json.dumps(row, indent=2, default=str))
            print(
                f"seed {seed} {method:>13}: top-1 "
                f"{row['test_accuracy']:.4f}  CE {row['test_ce']:.4f}  "
                f"wrote {path}",
                flush=True,
            )
            keras.backend.clear_session(free_memory=False)
    aggregate(run_dir, meta)


if __name__ == "__main__":
    define_flags()
    app.run(main)
