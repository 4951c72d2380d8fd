"""The student search on the default ladder, against distilling the same
candidates one by one without the shared teacher-output cache.

Fashion-MNIST, the shipped resnet20 teacher, the ladder of
`kd.recipes.default_ladder()` (5k to 274k parameters), full-integer int8,
1 LiteRT thread (XNNPACK). Measures, in one run:

- the search (`kd.recipes.search_students`): its table and plot, and its
  wall time (the cache build, every candidate's distillation, export,
  verification and measurement);
- the same candidates distilled one by one with the teacher run every step
  (no cache): the sum of their training times, against the search's
  cache build plus its training times, and whole against whole (the
  exports counted once for both, from the search's records);
- the most accurate candidate refined by `--refine` (QAT, pruning to 50%:
  `search_students(refine=...)`), ranked in the same table;
- the winner under each `--budgets` latency bound (among the
  candidates), and the same student trained alone (hard labels, same
  data, epochs and schedule), both evaluated on the validation images.

Validation: the last `--val_images` training images. Generated data (the
cache, the artifacts, per-candidate files) goes to `--work_dir` (ignored);
a restarted run skips finished candidates and finished one-by-one runs.

Reproduce:

```
python -m benchmarks.student_search --train_images=20000 --epochs=2
```
"""

import dataclasses
import json
import os
import pathlib
import shutil
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from absl import app
from absl import flags

import kd_toolkit as kd
from benchmarks import machine
from kd_toolkit.recipes import search_report
from kd_toolkit.recipes import training
from kd_toolkit.utils.atomic_io import atomic_write_text
from kd_toolkit.utils.atomic_io import atomic_write_texts

FLAGS = flags.FLAGS
BATCH = 128
LEARNING_RATE = 2e-3


def define_flags():
    """The command line's flags; defined only when run as a script, since
    absl flags are global and the benchmarks share names."""
    flags.DEFINE_integer("train_images", 20_000, "Training images.")
    flags.DEFINE_integer("val_images", 5_000, "Validation images.")
    flags.DEFINE_integer("epochs", 2, "Epochs per candidate.")
    flags.DEFINE_list("budgets", ["0.05", "0.2"], "Latency bounds, ms.")
    flags.DEFINE_list(
        "refine", ["qat", "prune50"], "Refinements of the winner."
    )
    flags.DEFINE_string(
        "work_dir", "benchmarks/cache/student_search", "Generated (ignored)."
    )
    flags.DEFINE_string(
        "out", "benchmarks/results/student_search", "Output path, no suffix."
    )


def _data():
    x, y = kd.data.load_numpy("fashion_mnist", "train")
    n, v = FLAGS.train_images, FLAGS.val_images
    if n + v > len(x):
        raise ValueError(
            f"--train_images + --val_images must be at most {len(x)}. "
            f"Received: {n} + {v}"
        )
    return (x[:n], y[:n]), (x[-v:], y[-v:])


def _accuracy(model, val):
    logits = model.predict(val[0], batch_size=256, verbose=0)
    return float(np.mean(np.argmax(logits, -1) == val[1]) * 100)


def _train_one(candidate, teacher, ds, steps, val, distil):
    """Distils `candidate` with the teacher run every step (`distil`) or
    trains it alone, on the search's batches without their cached logits;
    returns seconds and validation top-1."""
    import keras

    keras.utils.set_random_seed(0)
    student = candidate.build((28, 28, 1), 10)
    settings = kd.recipes.MethodSettings()
    if distil:
        plan = kd.recipes.methods.get("kd").plan(
            settings, teacher, student, total_steps=steps
        )
        model = kd.Distiller(
            teacher,
            student,
            losses=plan.losses,
            student_loss_weight=1.0 - settings.kd_weight,
        )
        model.compile(training.cosine_adam(LEARNING_RATE, steps))
    else:
        model = student
        model.compile(
            training.cosine_adam(LEARNING_RATE, steps),
            loss=training.hard_label_loss(),
        )
    start = time.perf_counter()
    model.fit(ds, epochs=FLAGS.epochs, verbose=0)
    return {
        "seconds": time.perf_counter() - start,
        "accuracy": _accuracy(student, val),
    }


def _cached_run(path, fn):
    """`fn()`'s result, kept in `path` (a restarted run reuses it)."""
    if path.exists():
        return json.loads(path.read_text())
    result = fn()
    atomic_write_text(path, json.dumps(result), overwrite=True)
    return result


def main(argv):
    del argv
    work = pathlib.Path(FLAGS.work_dir)
    key = f"n{FLAGS.train_images}-v{FLAGS.val_images}-e{FLAGS.epochs}"
    work = work / key
    (work / "one_by_one").mkdir(parents=True, exist_ok=True)
    teacher = kd.pretrained.load("fashion_mnist_resnet20")
    train, val = _data()
    ladder = kd.recipes.default_ladder()
    budget = kd.recipes.Budget(threads=1)

    common = dict(
        epochs=FLAGS.epochs,
        batch_size=BATCH,
        learning_rate=LEARNING_RATE,
        out_dir=work / "search",
        class_names=list(kd.data.dataset_info("fashion_mnist").class_names),
    )
    print(f"search over {len(ladder)} candidates", flush=True)
    timing = work / "search_seconds.json"
    start = time.perf_counter()
    result = kd.recipes.search_students(
        teacher, train, val, ladder, budget, **common
    )
    # The wall time of the first whole search (a restarted one skips the
    # finished candidates, so only an uninterrupted run is timed).
    first = _cached_run(
        timing,
        lambda: {
            "seconds": time.perf_counter() - start,
            "cache_seconds": json.loads(
                (work / "search" / "search.json").read_text()
            )["info"]["cache_seconds"],
        },
    )
    search_seconds = first["seconds"]
    print(f"refining the winner ({', '.join(FLAGS.refine)})", flush=True)
    start = time.perf_counter()
    result = kd.recipes.search_students(
        teacher, train, val, ladder, budget, refine=FLAGS.refine, **common
    )
    refine_seconds = time.perf_counter() - start
    refined = [r for r in result.records if r.get("refined_from")]
    result = dataclasses.replace(
        result,
        records=tuple(r for r in result.records if not r.get("refined_from")),
    )
    records = {r["name"]: r for r in result.records}

    # The search's batches (same order), without the cached logits.
    source = kd.data.ArraySource(*train)
    plain = kd.ShardedTeacherCache.get_or_build(
        work / "search" / "teacher_cache", teacher, source, verbose=False
    ).dataset(source, BATCH, seed=0, with_teacher_outputs=False)
    steps = -(-len(train[0]) // BATCH) * FLAGS.epochs
    print("the same candidates one by one, teacher live", flush=True)
    live = {}
    for c in ladder:
        live[c.name] = _cached_run(
            work / "one_by_one" / f"{c.file_stem}.json",
            lambda c=c: _train_one(c, teacher, plain, steps, val, True),
        )
        print(f"  {c.name}: {live[c.name]['seconds']:.1f} s", flush=True)

    winners = {}
    for bound in sorted(float(b) for b in FLAGS.budgets):
        b = kd.recipes.Budget(latency_ms=bound, threads=1)
        w = search_report.rank(result.records, b)
        entry = {"budget_ms": bound, "winner": None if w is None else w["name"]}
        if w is not None:
            candidate = next(c for c in ladder if c.name == w["name"])
            alone = _cached_run(
                work / "one_by_one" / f"alone-{candidate.file_stem}.json",
                lambda c=candidate: _train_one(
                    c, teacher, plain, steps, val, False
                ),
            )
            entry.update(
                distilled_keras=w["keras_accuracy"],
                distilled_int8=w["accuracy"],
                alone_keras=alone["accuracy"],
                latency_ms=w["latency_ms"],
                flash_bytes=w["flash_bytes"],
            )
            larger = search_report.next_larger(result.records, w)
            entry["next_larger"] = (
                None
                if larger is None
                else {
                    "name": larger["name"],
                    "misses": b.misses(larger),
                }
            )
        winners[str(bound)] = entry

    cached_train = sum(r["train_seconds"] for r in records.values())
    exports = sum(r["export_seconds"] for r in records.values())
    live_train = sum(v["seconds"] for v in live.values())
    summary = {
        "search_seconds": search_seconds,
        "cache_seconds": first["cache_seconds"],
        "cached_train_seconds": cached_train,
        "export_seconds": exports,
        "one_by_one_train_seconds": live_train,
        "train_ratio": (first["cache_seconds"] + cached_train) / live_train,
        "whole_ratio": search_seconds / (live_train + exports),
        "refine_seconds": refine_seconds,
    }
    payload = {
        "machine": machine.description(),
        "cpu_flags": machine.cpu_flags(),
        "command": "python -m benchmarks.student_search "
        + " ".join(sys.argv[1:]),
        "settings": {
            "train_images": FLAGS.train_images,
            "val_images": FLAGS.val_images,
            "epochs": FLAGS.epochs,
        },
        "summary": summary,
        "winners": winners,
        "one_by_one": live,
        "candidates": list(result.records),
        "refined": refined,
    }
    text = to_markdown(payload, budget)
    out = pathlib.Path(FLAGS.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(result.plot_path, f"{out}.png")
    atomic_write_texts(
        {
            f"{out}.json": json.dumps(payload, indent=1, default=str),
            f"{out}.md": text,
        },
        overwrite=True,
    )
    print(text)


def to_markdown(payload, budget):
    """The results page: settings, the ratio, the winners, the table."""
    s, settings = payload["summary"], payload["settings"]
    table = search_report.to_markdown(
        payload["candidates"] + payload.get("refined", []),
        budget,
        None,
        {
            "method": "kd",
            "epochs": settings["epochs"],
            "train_examples": settings["train_images"],
            "val_examples": settings["val_images"],
            "cache_seconds": s["cache_seconds"],
        },
    )
    table = table.split("\n", 2)[2].split("\nNo candidate")[0]
    lines = [
        "# Student search on the default ladder",
        "",
        f"Machine: {payload['machine']} (CPU flags "
        f"{', '.join(payload['cpu_flags'])}). Command: "
        f"`{payload['command']}`. Fashion-MNIST, the shipped resnet20 "
        f"teacher, KD (τ 1, α 0.5), {settings['epochs']} epochs on "
        f"{settings['train_images']:,} training images; validation: the "
        f"last {settings['val_images']:,} training images.",
        "",
        "| time (one run) | seconds |",
        "|---|---:|",
        f"| search, whole (cache, distillation, export, checks) | "
        f"{s['search_seconds']:.1f} |",
        f"| cache build | {s['cache_seconds']:.1f} |",
        f"| distillation from the cache, every candidate | "
        f"{s['cached_train_seconds']:.1f} |",
        f"| exports and checks, every candidate | {s['export_seconds']:.1f} |",
        f"| distillation one by one, teacher live, every candidate | "
        f"{s['one_by_one_train_seconds']:.1f} |",
        "",
        f"Training with the shared cache (build included) took "
        f"**{s['train_ratio']:.2f}×** the time of distilling the candidates "
        f"one by one with the teacher live; the whole search "
        f"{s['whole_ratio']:.2f}× the one-by-one training plus the same "
        "exports.",
        "",
        "The most accurate candidate, refined by "
        + ", ".join(r["refinement"] for r in payload.get("refined", []))
        + f" ({settings['epochs']} epochs of fine-tuning each, KD from the "
        f"live teacher; {s.get('refine_seconds', 0):.1f} s in all), is in "
        "the table as `<name>+<method>`.",
        "",
        "| latency budget (1 thread) | winner | latency (ms) | flash (B) | "
        "distilled, int8 top-1 | distilled, Keras | alone, Keras | "
        "next larger |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for w in payload["winners"].values():
        if w["winner"] is None:
            lines.append(f"| {w['budget_ms']} ms | none fits | | | | | | |")
            continue
        nxt = w["next_larger"]
        lines.append(
            f"| {w['budget_ms']} ms | {w['winner']} | {w['latency_ms']:.4f} "
            f"| {w['flash_bytes']:,} | {w['distilled_int8']:.2f} "
            f"| {w['distilled_keras']:.2f} | {w['alone_keras']:.2f} | "
            + (
                "none"
                if nxt is None
                else f"{nxt['name']}: "
                + ("; ".join(nxt["misses"]) or "fits, less accurate")
            )
            + " |"
        )
    lines += ["", "Every candidate (no budget):", "", table.strip(), ""]
    lines.append("![accuracy against latency](student_search.png)")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    define_flags()
    app.run(main)
