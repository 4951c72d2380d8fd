"""Building the shards of a `ShardedTeacherCache`: one process or several,
one builder or several racing, resumable after a kill.

A shard is claimed before it is built: an exclusive-create lock file
(`shard-00003.lock`) holding the builder's process id. Every builder walks
the shards in order, skips those already whole (arrays and record whose
hashes match) or claimed by a live process, and builds the rest; then it
waits for the shards others hold, taking over any whose claimant died. So
`num_workers` processes, or two users starting the same build, share the
work, each shard built once, and a build killed midway resumes at the
shards that are missing, its stale claims taken over.

A shard's arrays depend only on the key and the ids it holds (its views
come from `(seed, id, draw)`, `cache_views`), so the store is the same
whichever process built which shard.

Size: the resumable build of one sharded cache, one pass in order (plan,
teacher passes, shard files, manifest); to split next: the manifest checks.
"""

import concurrent.futures
import hashlib
import io
import json
import multiprocessing
import os
import pathlib
import time

import numpy as np
import tensorflow as tf

from kd_toolkit.data.catalog import ResizedCropSpec
from kd_toolkit.data.catalog import check_augment
from kd_toolkit.data.indexed_source import IndexedSource
from kd_toolkit.distiller import batch_norm_folding
from kd_toolkit.distiller import cache_files
from kd_toolkit.distiller import cache_views
from kd_toolkit.distiller import teacher_dtype
from kd_toolkit.utils import validation
from kd_toolkit.utils.atomic_io import atomic_save_model
from kd_toolkit.utils.atomic_io import atomic_write_bytes
from kd_toolkit.utils.atomic_io import atomic_write_text

FORMAT_VERSION = 1
_ARRAYS_FULL = ("values",)
_ARRAYS_TOP_K = ("values", "indices", "rest")
_POLL_SECONDS = 0.5


def make_key(
    teacher,
    source,
    augment,
    draws,
    seed,
    top_k,
    shard_size,
    dtype,
):
    """The manifest's key: everything the stored outputs depend on."""
    if not isinstance(source, IndexedSource):
        raise TypeError(
            "`source` must be a kd_toolkit.data.IndexedSource (an "
            "ImageFolder, an ArraySource, or a subclass). Received: source "
            f"of type {type(source).__name__}"
        )
    if not isinstance(augment, ResizedCropSpec):
        check_augment(augment)
    draws = validation.check_int("draws", draws, 1)
    seed = validation.check_int("seed", seed, 0)
    shard_size = validation.check_int("shard_size", shard_size, 1)
    if augment is None and draws != 1:
        raise ValueError(
            "Without augmentation every draw is the same image: pass "
            f"draws=1 or an `augment` spec. Received: draws={draws}"
        )
    num_classes = int(teacher.outputs[0].shape[-1])
    top_k = validation.check_int("top_k", top_k, 1, allow_none=True)
    if top_k is not None and top_k >= num_classes:
        top_k = None  # every logit: exact
    return {
        "format": FORMAT_VERSION,
        "teacher": cache_files.fingerprint_model(teacher),
        "teacher_dtype": teacher_dtype.resolve(dtype, teacher),
        "source": source.fingerprint(),
        "num_examples": int(source.num_examples),
        "num_classes": num_classes,
        **_view_key(augment),
        "draws": draws,
        "seed": seed,
        "top_k": top_k,
        "shard_size": shard_size,
    }


def _view_key(augment):
    if isinstance(augment, ResizedCropSpec):
        return {
            "view": "resized_crop",
            "scale": [float(v) for v in augment.scale],
            "ratio": [float(v) for v in augment.ratio],
            "flip": bool(augment.flip),
        }
    return {
        "view": "pad_crop",
        "pad": 0 if augment is None else int(augment.pad),
        "flip": False if augment is None else bool(augment.flip),
    }


def shard_ranges(key):
    """`(index, start, stop)` of every shard of the store."""
    n, size = key["num_examples"], key["shard_size"]
    return [
        (index, start, min(start + size, n))
        for index, start in enumerate(range(0, n, size))
    ]


def build_all(
    directory, key, teacher, source, batch_size, num_workers, verbose
):
    """Every shard's record, building the missing ones (in this process or
    in `num_workers` new ones) and waiting for those other builders hold.
    """
    directory = pathlib.Path(directory)
    if num_workers > 1:
        _build_in_workers(
            directory, key, teacher, source, batch_size, num_workers, verbose
        )
    builder = _Builder(directory, key, source, batch_size, verbose, teacher)
    builder.claim_and_build()
    return builder.collect()


class _Builder:
    """One process's share of a build. `teacher` is None in a worker
    process until it loads the saved one (`model_path`)."""

    def __init__(self, directory, key, source, batch_size, verbose, teacher):
        self.directory = pathlib.Path(directory)
        self.key = key
        self.source = source
        self.batch_size = batch_size
        self.verbose = verbose
        self.teacher = teacher
        self._infer = None
        self.built = []

    def infer(self):
        """The teacher's inference function, made on first use (a builder
        that finds every shard done never traces it)."""
        if self._infer is None:
            model = teacher_dtype.cast_model(
                self.teacher, self.key["teacher_dtype"]
            )
            model = batch_norm_folding.fold_batch_norm(model, ())
            self._infer = tf.function(
                lambda x: tf.cast(model(x, training=False), tf.float32)
            )
        return self._infer

    def claim_and_build(self):
        """Builds every shard that is neither whole nor claimed by a live
        process; returns the indices built here."""
        for index, start, stop in shard_ranges(self.key):
            if existing_shard(self.directory, index, self.key) is not None:
                continue
            self._try_build(index, start, stop)
        return self.built

    def _try_build(self, index, start, stop):
        lock = self.directory / f"shard-{index:05d}.lock"
        if not _claim(lock):
            return False
        try:
            # Whole now if its last claimant finished just before us.
            if existing_shard(self.directory, index, self.key) is None:
                for stale in self.directory.glob(f".shard-{index:05d}.*.tmp"):
                    stale.unlink(missing_ok=True)  # a killed build's
                build_shard(
                    self.directory,
                    index,
                    start,
                    stop,
                    self.key,
                    self.source,
                    self.infer(),
                    self.batch_size,
                )
                self.built.append(index)
                if self.verbose:
                    print(
                        f"[kd_toolkit] sharded cache: shard {index} "
                        f"(examples {start}..{stop - 1}) written",
                        flush=True,
                    )
        finally:
            lock.unlink(missing_ok=True)
        return True

    def collect(self):
        """Every shard's record, in order: waits for the shards other
        processes hold and builds those whose claimant is gone."""
        records, told = [], False
        for index, start, stop in shard_ranges(self.key):
            while True:
                record = existing_shard(self.directory, index, self.key)
                if record is not None:
                    break
                if self._try_build(index, start, stop):
                    continue
                if self.verbose and not told:
                    print(
                        "[kd_toolkit] sharded cache: waiting for the "
                        f"shards another builder holds (shard {index})",
                        flush=True,
                    )
                    told = True
                time.sleep(_POLL_SECONDS)
            records.append(record)
        return records


def _build_in_workers(
    directory, key, teacher, source, batch_size, num_workers, verbose
):
    """Runs `num_workers` builder processes (spawned: TensorFlow does not
    survive a fork), each on `cores // num_workers` threads, on a copy of
    the teacher saved in the store's folder."""
    model_path = directory / f".teacher-{key['teacher'][:16]}.keras"
    if not model_path.exists():
        atomic_save_model(teacher, model_path, overwrite=True)
    threads = max(1, (os.cpu_count() or 1) // num_workers)
    context = multiprocessing.get_context("spawn")
    try:
        with concurrent.futures.ProcessPoolExecutor(
            num_workers, mp_context=context
        ) as pool:
            futures = [
                pool.submit(
                    _worker,
                    str(directory),
                    key,
                    str(model_path),
                    source,
                    batch_size,
                    threads,
                    verbose,
                )
                for _ in range(num_workers)
            ]
            for future in futures:
                future.result()
    finally:
        model_path.unlink(missing_ok=True)


def _worker(directory, key, model_path, source, batch_size, threads, verbose):
    """A worker process: loads the teacher, checks it is the key's, and
    builds what no one else holds."""
    import keras

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    teacher = keras.models.load_model(model_path, compile=False)
    if cache_files.fingerprint_model(teacher) != key["teacher"]:
        raise ValueError(
            "The teacher saved for the build workers loads as another model "
            "(its fingerprint differs): its layers do not round-trip "
            "through `.keras` serialization. Register its custom layers "
            "with `keras.saving.register_keras_serializable`, or build with "
            f"num_workers=1. Received: teacher file {model_path!r}"
        )
    builder = _Builder(directory, key, source, batch_size, verbose, teacher)
    return builder.claim_and_build()


def _claim(lock):
    """Takes the exclusive-create lock file `lock` for this process; False
    when a live process holds it. A lock whose process is gone (a killed
    build) is taken over."""
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                owner = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                owner = 0
            if owner and owner != os.getpid() and _running(owner):
                return False
            lock.unlink(missing_ok=True)  # stale: its builder is gone
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return True
    return False


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def shard_files(index, key):
    names = _ARRAYS_FULL if key["top_k"] is None else _ARRAYS_TOP_K
    return {n: f"shard-{index:05d}.{n}.npy" for n in names}


def existing_shard(directory, index, key):
    """The record of a finished, intact shard, or None to (re)build it."""
    record_path = pathlib.Path(directory) / f"shard-{index:05d}.json"
    if not record_path.exists():
        return None
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if record.get("key") != key:
        return None
    for name, file in record["files"].items():
        path = pathlib.Path(directory) / file
        if not path.exists() or sha256(path) != record["sha256"][name]:
            return None
    return {k: record[k] for k in ("start", "stop", "files", "sha256")}


def build_shard(directory, index, start, stop, key, source, infer, batch_size):
    """Runs the teacher over every view of examples `start..stop - 1` and
    writes the shard's arrays, then its record (each atomically)."""
    directory = pathlib.Path(directory)
    ids = np.arange(start, stop)
    params = cache_views.view_parameters(key, ids, source.input_shape)
    parts = {n: [] for n in shard_files(index, key)}
    offset = 0
    for x in source.examples(ids).batch(batch_size).prefetch(2):
        n = int(x.shape[0])
        per_draw = []
        for d in range(key["draws"]):
            view = cache_views.make_views(
                x,
                key,
                [tf.constant(p[offset : offset + n, d]) for p in params],
            )
            logits = infer(view).numpy()
            cache_files.check_finite([logits], start + offset, d, key["draws"])
            per_draw.append(logits)
        logits = np.stack(per_draw, axis=1)  # (n, draws, C)
        if key["top_k"] is None:
            parts["values"].append(logits)
        else:
            for name, array in zip(_ARRAYS_TOP_K, top_k(logits, key["top_k"])):
                parts[name].append(array)
        offset += n
    files = shard_files(index, key)
    digests = {}
    for name, file in files.items():
        buffer = npy_bytes(np.concatenate(parts[name]))
        atomic_write_bytes(directory / file, buffer, overwrite=True)
        digests[name] = hashlib.sha256(buffer).hexdigest()
    record = {
        "key": key,
        "start": int(start),
        "stop": int(stop),
        "files": files,
        "sha256": digests,
    }
    atomic_write_text(
        directory / f"shard-{index:05d}.json",
        json.dumps(record),
        overwrite=True,
    )
    return {k: record[k] for k in ("start", "stop", "files", "sha256")}


def top_k(logits, k):
    """`(values, indices, rest)` of `(n, draws, C)` logits: the k largest
    (descending), their class ids and the log-sum-exp of the others."""
    order = np.argsort(-logits, axis=-1, kind="stable")[..., :k]
    values = np.take_along_axis(logits, order, axis=-1)
    m = logits.max(axis=-1, keepdims=True)
    total = np.exp(logits - m).sum(-1)
    top = np.exp(values - m).sum(-1)
    rest = (m[..., 0] + np.log(np.maximum(total - top, 1e-30))).astype(
        np.float32
    )
    ids = np.int16 if logits.shape[-1] <= np.iinfo(np.int16).max else np.int32
    return values.astype(np.float32), order.astype(ids), rest


def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
