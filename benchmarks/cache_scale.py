"""The streaming teacher-output cache at scale: 200k image files on disk.

Generates a folder of PNG files (Fashion-MNIST's training images upsampled
to 56x56, placed at a random offset on a 64x64 canvas, tinted: 3 channels,
10 class folders), then measures, with a 1000-class teacher (resnet20 at
64x64x3, random weights: the speed and the store's size do not depend on
them) and the sharded cache (`kd_toolkit.ShardedTeacherCache`, top-10
logits, pad-crop-flip views):

- the cache build's throughput as a ratio to plain teacher inference over
  the same folder (decode, the same dtype, the same batch), with 1 and 2
  worker processes;
- the peak RSS of a build and of a training epoch at 20k, 100k and 200k
  images;
- the stored bytes per view for top-k = 5, 10 and all 1000 logits;
- a KD step from the cache, the images read from the folder, against the
  student trained alone from the same folder;
- the input pipeline alone (no model): images/s with the cached logits
  against the same pipeline without them;
- a build SIGKILLed midway and resumed: which shards it rebuilt, and
  whether the store equals an uninterrupted build bit for bit;
- teacher inference in bfloat16 against float32 (what
  `teacher_dtype="auto"` chooses between).

Every measurement runs in a fresh process (so each peak RSS is its own),
one after the other, in one run. The generated folder and the stores go to
`benchmarks/cache/cache_scale/` (ignored; about 1.6 GB, reused by a rerun).

Reproduce (about 25 minutes on a 2-core AVX-512 machine):

```
python -m benchmarks.cache_scale
```
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app
from absl import flags

FLAGS = flags.FLAGS


def define_flags():
    """The command line's flags; defined only when run as a script, since
    absl flags are global and the benchmarks share names."""
    flags.DEFINE_integer("images", 200_000, "PNG files to generate.")
    flags.DEFINE_list("sizes", ["20000", "100000", "200000"], "RSS sizes.")
    flags.DEFINE_integer(
        "throughput_images", 50_000, "Images of the throughput builds."
    )
    flags.DEFINE_integer("step_images", 20_000, "Images of the step timings.")
    flags.DEFINE_integer(
        "rounds", 3, "Interleaved rounds of the throughput runs."
    )
    flags.DEFINE_string(
        "work_dir", "benchmarks/cache/cache_scale", "Generated data (ignored)."
    )
    flags.DEFINE_string(
        "out", "benchmarks/results/cache_scale", "Output path without suffix."
    )
    flags.DEFINE_string("child", "", "Internal: one measurement, as JSON.")


CLASSES = 1000
SIZE = (64, 64)
PAD = 8
BATCH = 256
STEP_BATCH = 128
SHARD_SIZE = 10_000  # the library's default


def _small_shards():
    """Shard size of the kill test's stores of `--step_images` images: 10
    shards, so that a kill lands midway."""
    return max(1, FLAGS.step_images // 10)


# -- the folder ----------------------------------------------------------


def generate(root, n):
    """`n` PNG files under `root/<class>/`, made once (a marker file says
    the folder is complete)."""
    import numpy as np
    import tensorflow as tf

    import kd_toolkit as kd

    root = pathlib.Path(root)
    marker = root / f".complete-{n}"
    if marker.exists():
        return
    x, y = kd.data.load_numpy("fashion_mnist", "train")
    names = kd.data.dataset_info("fashion_mnist").class_names
    for name in names:
        (root / _folder_name(name)).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    source = np.arange(n) % len(y)
    offsets = rng.integers(0, 64 - 56 + 1, (n, 2))
    tints = rng.uniform(0.5, 1.0, (n, 3)).astype(np.float32)
    paths = [
        str(root / _folder_name(names[y[s]]) / f"{i:06d}.png")
        for i, s in enumerate(source)
    ]
    images = tf.constant(x)

    def write(i):
        image = tf.image.resize(tf.gather(images, source[i]), (56, 56))
        image = tf.image.pad_to_bounding_box(
            image, offsets[i][0], offsets[i][1], *SIZE
        )
        image = image * tints[i] * 255.0
        png = tf.io.encode_png(tf.cast(tf.round(image), tf.uint8))
        tf.io.write_file(tf.gather(paths, i), png)
        return i

    offsets, tints = tf.constant(offsets), tf.constant(tints)
    source, paths = tf.constant(source), tf.constant(paths)
    done = tf.data.Dataset.range(n).map(
        write, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False
    )
    for _ in done.batch(4096):
        pass
    marker.write_text(str(n))


def _folder_name(name):
    return name.replace("/", "-").replace(" ", "_").lower()


# -- one measurement, in its own process ---------------------------------


def _peak_rss_mb():
    """This process's peak resident set (VmHWM, MB). Not `ru_maxrss`,
    which Linux carries over from the parent through fork and exec."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _teacher():
    import keras

    from kd_toolkit.recipes import training

    keras.utils.set_random_seed(0)
    return training.build_model("resnet20", (*SIZE, 3), CLASSES)


def _folder(work, n):
    import kd_toolkit as kd

    folder = kd.data.ImageFolder(pathlib.Path(work) / "images", SIZE)
    return folder.subset(range(n)) if n < folder.num_examples else folder


def child(spec):
    """Runs one measurement and returns its JSON-ready result."""
    import numpy as np
    import tensorflow as tf

    import kd_toolkit as kd
    from kd_toolkit.distiller import batch_norm_folding
    from kd_toolkit.distiller import teacher_dtype

    task, work = spec["task"], spec["work"]
    if task == "generate":
        start = time.perf_counter()
        generate(pathlib.Path(work) / "images", spec["n"])
        return {
            "task": task,
            "n": spec["n"],
            "seconds": time.perf_counter() - start,
        }
    folder = _folder(work, spec["n"])
    teacher = _teacher()
    augment = kd.data.AugmentSpec(pad=PAD, flip=True)
    out = {"task": task, "n": spec["n"]}
    if task == "infer":
        dtype = teacher_dtype.resolve(spec.get("dtype", "auto"), teacher)
        model = batch_norm_folding.fold_batch_norm(
            teacher_dtype.cast_model(teacher, dtype)
        )
        infer = tf.function(
            lambda x: tf.cast(model(x, training=False), tf.float32)
        )
        start = time.perf_counter()
        ids = np.arange(folder.num_examples)
        for batch in folder.examples(ids).batch(BATCH).prefetch(2):
            infer(batch).numpy()
        out.update(dtype=dtype, seconds=time.perf_counter() - start)
    elif task == "verify":
        start = time.perf_counter()
        folder.verify()
        out["seconds"] = time.perf_counter() - start
    elif task == "build":
        start = time.perf_counter()
        cache = _open_store(
            kd,
            spec,
            teacher,
            folder,
            top_k=spec["top_k"],
            num_workers=spec["workers"],
            check_files=spec.get("check_files", True),
            verbose=True,
        )
        out.update(
            seconds=time.perf_counter() - start,
            dtype=cache.manifest["key"]["teacher_dtype"],
            bytes_per_view=cache.bytes_per_view(),
            hashes=[s["sha256"] for s in cache.manifest["shards"]],
        )
    elif task in ("kd", "alone", "pipeline", "pipeline_plain"):
        cache = _open_store(kd, spec, teacher, folder, top_k=10, verbose=False)
        if task.startswith("pipeline"):
            data = cache.dataset(
                folder,
                STEP_BATCH,
                with_teacher_outputs=task == "pipeline",
            )
            start = time.perf_counter()
            for _ in data:
                pass
            out["seconds"] = time.perf_counter() - start
        else:
            out.update(_train(kd, spec, teacher, cache, folder, augment, task))
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


def _open_store(kd, spec, teacher, folder, **kwargs):
    """The spec's store (built if missing): pad-crop-flip, one draw."""
    return kd.ShardedTeacherCache.get_or_build(
        spec["store"],
        teacher,
        folder,
        augment=kd.data.AugmentSpec(pad=PAD, flip=True),
        draws=1,
        shard_size=spec["shard_size"],
        batch_size=BATCH,
        **kwargs,
    )


class _StepClock:
    """Seconds per step after the first `skip` steps (tracing, warm-up;
    at most a quarter of the epoch's steps)."""

    def __init__(self, skip=20):
        import keras

        clock = self

        class Callback(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                clock.skip = min(skip, max(1, (self.params["steps"] or 0) // 4))

            def on_train_batch_end(self, batch, logs=None):
                if batch == clock.skip - 1:
                    clock.start = time.perf_counter()
                clock.steps = batch + 1

            def on_epoch_end(self, epoch, logs=None):
                clock.end = time.perf_counter()

        self.callback = Callback()
        self.skip = skip
        self.start = self.end = None
        self.steps = 0

    def seconds_per_step(self):
        return (self.end - self.start) / (self.steps - self.skip)


def _train(kd, spec, teacher, cache, folder, augment, task):
    """One epoch of the student: KD from the cache, or alone from the
    folder's own augmented batches."""
    import keras

    from kd_toolkit.recipes import training

    student = training.build_model(
        "resnet8", (*SIZE, 3), CLASSES, width=spec["width"]
    )
    clock = _StepClock()
    start = time.perf_counter()
    if task == "kd":
        distiller = kd.Distiller(
            teacher, student, losses=[kd.losses.KD(temperature=1.0)]
        )
        distiller.compile(keras.optimizers.Adam(1e-3), jit_compile=False)
        model, data = distiller, cache.dataset(folder, STEP_BATCH)
    else:
        student.compile(
            keras.optimizers.Adam(1e-3),
            training.hard_label_loss(),
            jit_compile=False,
        )
        model = student
        data = folder.dataset(
            STEP_BATCH, augment=augment, shuffle=True
        ).prefetch(2)
    model.fit(
        data, epochs=1, verbose=0, shuffle=False, callbacks=[clock.callback]
    )
    return {
        "seconds": time.perf_counter() - start,
        "seconds_per_step": clock.seconds_per_step(),
        "steps": clock.steps,
    }


# -- the run -------------------------------------------------------------


def _run_child(spec, kill_after=None):
    """Runs `spec` in a fresh process; its result, or None when killed
    (`kill_after`: a file whose appearance triggers the SIGKILL)."""
    command = [sys.executable, "-m", "benchmarks.cache_scale"]
    command.append("--child=" + json.dumps(spec))
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, cwd=_root()
    )
    if kill_after is not None:
        while not pathlib.Path(kill_after).exists():
            if proc.poll() is not None:
                raise RuntimeError(f"{spec} ended before the kill")
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None
    stdout, _ = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"{spec} failed: exit {proc.returncode}")
    lines = stdout.splitlines()
    result = json.loads(
        next(line for line in lines if line.startswith("RESULT "))[7:]
    )
    result["built"] = [
        int(line.split("shard ")[1].split()[0])
        for line in lines
        if "sharded cache: shard" in line and "written" in line
    ]
    print(
        f"  {spec['task']} {spec['n']}: "
        + ", ".join(
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in result.items()
            if k not in ("hashes", "built", "task", "n")
        ),
        flush=True,
    )
    return result


def _root():
    return str(pathlib.Path(__file__).resolve().parents[1])


def _store(work, name):
    return str(pathlib.Path(work) / "stores" / name)


def _clear(path):
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def measure(work, sizes):
    """Every measurement of the module doc; a dict of results."""
    t = FLAGS.throughput_images
    s = FLAGS.step_images
    r = {}
    spec = {"work": work}

    def fresh(name):
        _clear(_store(work, name))
        return _store(work, name)

    print(
        f"teacher inference and cache builds over {t} images, "
        f"{FLAGS.rounds} interleaved rounds",
        flush=True,
    )
    build = {**spec, "task": "build", "n": t, "top_k": 10}
    build["shard_size"] = SHARD_SIZE
    for rnd in range(FLAGS.rounds):
        for dtype in ("float32", "bfloat16"):
            r[f"infer_{dtype}_{rnd}"] = _run_child(
                {**spec, "task": "infer", "n": s, "dtype": dtype}
            )
        r[f"infer_{rnd}"] = _run_child({**spec, "task": "infer", "n": t})
        r[f"verify_{rnd}"] = _run_child({**spec, "task": "verify", "n": t})
        for name, extra in (
            ("build_w1", {"workers": 1}),
            ("build_unchecked", {"workers": 1, "check_files": False}),
            ("build_w2", {"workers": 2}),
        ):
            r[f"{name}_{rnd}"] = _run_child(
                {**build, **extra, "store": fresh(f"throughput_{name}")}
            )
    print("peak RSS of builds and epochs; bytes per view", flush=True)
    for n in sizes:
        shard_size = SHARD_SIZE
        r[f"build_{n}"] = _run_child(
            {
                **spec,
                "task": "build",
                "n": n,
                "top_k": 10,
                "workers": 1,
                "shard_size": shard_size,
                "store": fresh(f"top10_{n}"),
            }
        )
        store = _store(work, f"top10_{n}")
        r[f"epoch_{n}"] = _run_child(
            {
                **spec,
                "task": "kd",
                "n": n,
                "width": 16,
                "store": store,
                "shard_size": shard_size,
            }
        )
    for k in (5, None):
        r[f"build_top{k or 'all'}"] = _run_child(
            {
                **spec,
                "task": "build",
                "n": s,
                "top_k": k,
                "workers": 1,
                "shard_size": SHARD_SIZE,
                "store": fresh(f"top{k or 'all'}_{s}"),
            }
        )
    print(f"steps and the input pipeline over {s} images", flush=True)
    small = {
        **spec,
        "n": s,
        "store": _store(work, f"top10_{s}"),
        "shard_size": SHARD_SIZE,
        "width": 16,
    }
    for rnd in range(2):  # interleaved
        for task in ("kd", "alone", "pipeline", "pipeline_plain"):
            r[f"{task}_{rnd}"] = _run_child({**small, "task": task})
    print("a build SIGKILLed midway, then resumed", flush=True)
    r["reference"] = _run_child(
        {
            **spec,
            "task": "build",
            "n": s,
            "top_k": 10,
            "workers": 1,
            "shard_size": _small_shards(),
            "store": fresh("reference"),
        }
    )
    killed = fresh("killed")
    _run_child(
        {
            **spec,
            "task": "build",
            "n": s,
            "top_k": 10,
            "workers": 1,
            "shard_size": _small_shards(),
            "store": killed,
        },
        kill_after=pathlib.Path(killed) / "shard-00003.json",
    )
    before = sorted(p.name for p in pathlib.Path(killed).glob("shard-*.json"))
    r["killed_shards_before_resume"] = before
    r["resumed"] = _run_child(
        {
            **spec,
            "task": "build",
            "n": s,
            "top_k": 10,
            "workers": 1,
            "shard_size": _small_shards(),
            "store": killed,
        }
    )
    return r


def _median(values):
    values = sorted(values)
    mid = len(values) // 2
    return (
        values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
    )


def summarize(r, sizes, t, s, rounds):
    """The targets of the issue, each with its measured figure (`t`: the
    throughput images, `s`: the step images; throughput ratios are paired
    by round, then the median taken)."""
    lo, hi = min(sizes), max(sizes)

    def per_round(name):
        return [r[f"{name}_{i}"]["seconds"] for i in range(rounds)]

    def vs_infer(name):
        return _median(
            [a / b for a, b in zip(per_round("infer"), per_round(name))]
        )

    kd_step = _median([r[f"kd_{i}"]["seconds_per_step"] for i in (0, 1)])
    alone_step = _median([r[f"alone_{i}"]["seconds_per_step"] for i in (0, 1)])
    with_logits = _median([s / r[f"pipeline_{i}"]["seconds"] for i in (0, 1)])
    without = _median([s / r[f"pipeline_plain_{i}"]["seconds"] for i in (0, 1)])
    full = r["build_topall"]["bytes_per_view"]
    missing = sorted(
        set(range(-(-s // max(1, s // 10))))
        - {int(n[6:11]) for n in r["killed_shards_before_resume"]}
    )
    rows = [
        (
            "cache build, 1 worker, vs plain teacher inference "
            f"({t:,} images, images/s ratio)",
            vs_infer("build_w1"),
            ">= 0.9",
            lambda v: v >= 0.9,
        ),
        (
            "cache build, 1 worker, check_files=False (no decode pass "
            "before the build), vs plain teacher inference",
            vs_infer("build_unchecked"),
            ">= 0.9",
            lambda v: v >= 0.9,
        ),
        (
            "cache build, 2 workers, vs plain teacher inference",
            vs_infer("build_w2"),
            ">= 0.9",
            lambda v: v >= 0.9,
        ),
        (
            f"peak RSS of the build, {hi:,} vs {lo:,} images",
            r[f"build_{hi}"]["peak_rss_mb"] / r[f"build_{lo}"]["peak_rss_mb"],
            "<= 1.2",
            lambda v: v <= 1.2,
        ),
        (
            f"peak RSS of a training epoch, {hi:,} vs {lo:,} images",
            r[f"epoch_{hi}"]["peak_rss_mb"] / r[f"epoch_{lo}"]["peak_rss_mb"],
            "<= 1.2",
            lambda v: v <= 1.2,
        ),
        (
            "KD step from the cache vs the student alone, both from the "
            "folder (seconds per step ratio)",
            kd_step / alone_step,
            "<= 1.05",
            lambda v: v <= 1.05,
        ),
        (
            "input pipeline with cached logits vs without (images/s ratio)",
            with_logits / without,
            ">= 0.9",
            lambda v: v >= 0.9,
        ),
        (
            "top-10 bytes per view vs all 1000 logits",
            r[f"build_{s}"]["bytes_per_view"] / full,
            "<= 0.03",
            lambda v: v <= 0.03,
        ),
        (
            "after a SIGKILL: the resumed build rebuilt only the missing "
            f"shards ({missing}) and equals an uninterrupted build",
            float(
                r["resumed"]["built"] == missing
                and r["resumed"]["hashes"] == r["reference"]["hashes"]
            ),
            "1 (yes)",
            lambda v: v == 1.0,
        ),
    ]
    targets = [
        {"what": w, "value": v, "target": tgt, "met": bool(ok(v))}
        for w, v, tgt, ok in rows
    ]
    figures = {
        "teacher images/s, float32": s / _median(per_round("infer_float32")),
        "teacher images/s, bfloat16": s / _median(per_round("infer_bfloat16")),
        "bfloat16 vs float32 teacher inference (paired by round)": _median(
            [
                a / b
                for a, b in zip(
                    per_round("infer_float32"), per_round("infer_bfloat16")
                )
            ]
        ),
        "teacher dtype chosen by auto": r["infer_0"]["dtype"],
        "plain inference images/s": t / _median(per_round("infer")),
        "decode check before a build (every file once), s": _median(
            per_round("verify")
        ),
        "build images/s, 1 worker": t / _median(per_round("build_w1")),
        "build images/s, 1 worker, check_files=False": t
        / _median(per_round("build_unchecked")),
        "build images/s, 2 workers": t / _median(per_round("build_w2")),
        "KD step, s": kd_step,
        "alone step, s": alone_step,
        "pipeline images/s with logits": with_logits,
        "pipeline images/s without": without,
        "bytes per view, top-5": r["build_top5"]["bytes_per_view"],
        "bytes per view, top-10": r[f"build_{s}"]["bytes_per_view"],
        "bytes per view, all 1000": full,
    }
    for n in sizes:
        figures[f"peak RSS MB, build of {n:,}"] = r[f"build_{n}"]["peak_rss_mb"]
        figures[f"peak RSS MB, epoch of {n:,}"] = r[f"epoch_{n}"]["peak_rss_mb"]
    return targets, figures


def to_markdown(result):
    lines = [
        "# The streaming teacher-output cache at scale",
        "",
        f"{result['description']}",
        "",
        f"Machine: {result['machine']} (CPU flags "
        f"{', '.join(result['cpu_flags'])}); {result['date']}.",
        "",
        "| target | measured | wanted | met |",
        "|---|---|---|---|",
    ]
    for row in result["targets"]:
        lines.append(
            f"| {row['what']} | {row['value']:.3f} | {row['target']} | "
            f"{'yes' if row['met'] else '**no**'} |"
        )
    lines += ["", "| figure | value |", "|---|---|"]
    for name, value in result["figures"].items():
        text = f"{value:,.4g}" if isinstance(value, float) else str(value)
        lines.append(f"| {name} | {text} |")
    lines += ["", f"Command: `{result['command']}`", ""]
    return "\n".join(lines)


def main(argv):
    del argv
    if FLAGS.child:
        result = child(json.loads(FLAGS.child))
        print("RESULT " + json.dumps(result), flush=True)
        return
    import datetime

    from benchmarks import machine
    from kd_toolkit.utils.atomic_io import atomic_write_texts

    sizes = sorted(int(v) for v in FLAGS.sizes)
    if FLAGS.step_images not in sizes:
        raise app.UsageError(
            f"--sizes must include --step_images. Received: sizes={FLAGS.sizes}"
        )
    if max(sizes) > FLAGS.images:
        raise app.UsageError(
            f"--sizes must be at most --images={FLAGS.images}. Received: "
            f"sizes={FLAGS.sizes}"
        )
    work = FLAGS.work_dir
    # This process imports no TensorFlow: its children start small.
    print(f"generating {FLAGS.images:,} PNG files in {work}/images", flush=True)
    generated = _run_child(
        {"work": work, "task": "generate", "n": FLAGS.images}
    )
    r = measure(work, sizes)
    targets, figures = summarize(
        r, sizes, FLAGS.throughput_images, FLAGS.step_images, FLAGS.rounds
    )
    result = {
        "description": (
            f"{FLAGS.images:,} PNG files of 64x64x3 in 10 class folders "
            "(Fashion-MNIST upsampled, offset, tinted); teacher resnet20, "
            f"1000 classes, random weights; student resnet8 width 16 (narrower "
            "ones crash TensorFlow at 64 px: kd_toolkit.models.onednn_issue);"
            " pad-crop-flip views (pad "
            f"{PAD}), one draw; stores in shards of "
            f"{SHARD_SIZE:,} images ({_small_shards():,} for the kill "
            f"test); batch {BATCH} for the teacher, "
            f"{STEP_BATCH} for training; each figure from its own process; "
            f"the inference and build figures are medians of "
            f"{FLAGS.rounds} interleaved rounds over "
            f"{FLAGS.throughput_images:,} images (ratios paired by round), "
            "the step and pipeline figures of 2. Folder generated in "
            f"{generated['seconds']:.0f} s "
            "(0 s: reused)."
        ),
        "machine": machine.description(),
        "cpu_flags": machine.cpu_flags(),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": "python -m benchmarks.cache_scale " + " ".join(sys.argv[1:]),
        "targets": targets,
        "figures": figures,
        "runs": r,
    }
    text = to_markdown(result)
    print(text)
    atomic_write_texts(
        {
            FLAGS.out + ".json": json.dumps(result, indent=1, default=str),
            FLAGS.out + ".md": text,
        },
        overwrite=True,
    )


if __name__ == "__main__":
    define_flags()
    app.run(main)
