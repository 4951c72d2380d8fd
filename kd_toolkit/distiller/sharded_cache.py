"""A teacher-output cache that streams: shards on disk, built from an
indexed source (a folder of images), never holding the images in memory.

`TeacherLogitsCache` keeps the image array and every output in memory;
this store keeps neither. Each training example has a stable integer id in
its source (`kd_toolkit.data.ImageFolder`: the sorted file list). For
`(id, draw)` the view's crop offsets and flip follow from `(seed, id,
draw)` alone (a counter-based hash, so they do not depend on the shard
size or the order of the build), and the teacher's outputs for that view
are stored in the shard that holds `id`:

    DIR/manifest.json            written last: the key and the shard list
    DIR/shard-00000.values.npy   (n, draws, k) float32 teacher logits
    DIR/shard-00000.indices.npy  (n, draws, k) int16 class ids (int32 past
                                 32767 classes; top-k only)
    DIR/shard-00000.rest.npy     (n, draws) float32 log-sum-exp of the
                                 logits left out (top-k only)
    DIR/shard-00000.json         written after the shard's arrays: their
                                 SHA-256, so a shard is whole or redone

Every file goes through a temporary file and a rename. A build killed
midway resumes at the first shard that is missing or fails its hash, and
ends equal to an uninterrupted one, bit for bit. Reads are memory-mapped,
so the reading process's memory does not grow with the dataset.

Top-k (Shen & Xing, FKD, ECCV 2022, store soft labels per crop this way):
with `top_k=k` only the k largest logits are kept, with their class ids
and the log-sum-exp `L` of the other `C - k`. The full logit vector is
rebuilt with each left-out logit set to `L - log(C - k)`: the rest keeps
its total softmax mass at τ = 1 exactly and spreads it evenly, so KD's
target at τ = 1 is exact on the top k classes and on the rest's total,
and at other temperatures an approximation (the docs give the measured
error). `top_k=None` (or the class count) stores every logit: exact.
"""

import contextlib
import hashlib
import json
import os
import pathlib

import numpy as np
import tensorflow as tf

from kd_toolkit.data import pipeline
from kd_toolkit.data.catalog import ResizedCropSpec
from kd_toolkit.data.catalog import check_augment
from kd_toolkit.distiller import batch_norm_folding
from kd_toolkit.distiller import teacher_cache
from kd_toolkit.utils import validation
from kd_toolkit.utils.atomic_io import atomic_write_bytes
from kd_toolkit.utils.atomic_io import atomic_write_text

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
LOCK = "build.lock"
DEFAULT_SHARD_SIZE = 10_000
_ARRAYS_FULL = ("values",)
_ARRAYS_TOP_K = ("values", "indices", "rest")


def uniforms(seed, ids, draws, count):
    """float64 `(n, draws, count)` numbers in [0, 1) from a splitmix64 hash
    of `(seed, id, draw, j)`: the same for an id whatever the shard or the
    order of the build."""
    ids = np.asarray(ids, np.uint64)[:, None, None]
    draw = np.arange(draws, dtype=np.uint64)[None, :, None]
    j = np.arange(count, dtype=np.uint64)[None, None, :]
    with np.errstate(over="ignore"):
        x = (
            np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
            + ids * np.uint64(0xBF58476D1CE4E5B9)
            + draw * np.uint64(0x94D049BB133111EB)
            + j * np.uint64(0xD6E8FEB86659FD93)
            + np.uint64(0x2545F4914F6CDD1D)
        )
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def view_params(seed, ids, draws, pad, flip):
    """Pad-crop-flip views of every `(id, draw)`: int32 `(n, draws)` rows
    and columns in `[0, 2 * pad]` and bool flips."""
    u = uniforms(seed, ids, draws, 3)
    span = 2 * pad + 1
    rows = np.floor(u[..., 0] * span).astype(np.int32)
    cols = np.floor(u[..., 1] * span).astype(np.int32)
    return rows, cols, (u[..., 2] < 0.5) & bool(flip)


def resized_crop_boxes(seed, ids, draws, spec, height, width):
    """Random-resized-crop views of every `(id, draw)` (`ResizedCropSpec`):
    float32 boxes `(n, draws, 4)` as `tf.image.crop_and_resize` takes them
    (`y1, x1, y2, x2`, the pixel grid's corners at 0 and 1) and bool flips.
    """
    u = uniforms(seed, ids, draws, 5)
    lo, hi = spec["scale"]
    r_lo, r_hi = np.log(spec["ratio"][0]), np.log(spec["ratio"][1])
    area = (lo + u[..., 0] * (hi - lo)) * height * width
    ratio = np.exp(r_lo + u[..., 1] * (r_hi - r_lo))
    w = np.clip(np.round(np.sqrt(area * ratio)), 1, width)
    h = np.clip(np.round(np.sqrt(area / ratio)), 1, height)
    top = np.floor(u[..., 2] * (height - h + 1))
    left = np.floor(u[..., 3] * (width - w + 1))
    dy, dx = max(height - 1, 1), max(width - 1, 1)
    boxes = np.stack(
        [top / dy, left / dx, (top + h - 1) / dy, (left + w - 1) / dx], -1
    ).astype(np.float32)
    return boxes, (u[..., 4] < 0.5) & bool(spec["flip"])


def _params(key, ids, shape):
    """Every view's parameters for `ids`: arrays `(n, draws, ...)`."""
    draws = key["draws"]
    if key["view"] == "resized_crop":
        return resized_crop_boxes(key["seed"], ids, draws, key, *shape[:2])
    return view_params(key["seed"], ids, draws, key["pad"], key["flip"])


def _views(x, key, params):
    """The views of float images `x` (n, H, W, C) given one draw's
    parameters; the same ops at build and at training time."""
    if key["view"] == "resized_crop":
        boxes, mirror = params
        n = tf.shape(x)[0]
        out = tf.image.crop_and_resize(
            x, boxes, tf.range(n), tf.shape(x)[1:3], method="bilinear"
        )
        flipped = tf.reverse(out, axis=[2])
        return tf.where(tf.reshape(mirror, [-1, 1, 1, 1]), flipped, out)
    rows, cols, mirror = params
    return pipeline.crop_and_flip(x, rows, cols, mirror, key["pad"])


class ShardedTeacherCache:
    """Teacher logits for every (example, draw) of an indexed source, in
    shards on disk (see the module doc).

    Build or open one with `ShardedTeacherCache.get_or_build(...)`; train
    from `cache.dataset(...)`, whose batches carry the teacher's logits so
    the `Distiller` skips the teacher, while the images stream from the
    source.

    Args:
        directory: the store's folder.
        manifest: the manifest dict (as read from `manifest.json`).

    Example:

    ```python
    folder = kd_toolkit.data.ImageFolder("photos/train", (96, 96))
    cache = ShardedTeacherCache.get_or_build(
        "runs/photos/cache", teacher, folder,
        augment=kd_toolkit.data.AugmentSpec(pad=12, flip=True), draws=8,
        top_k=10)
    distiller.fit(cache.dataset(folder, batch_size=128, seed=0), epochs=30)
    ```
    """

    def __init__(self, directory, manifest):
        self.directory = pathlib.Path(directory)
        self.manifest = manifest
        key = manifest["key"]
        self.num_examples = key["num_examples"]
        self.draws = key["draws"]
        self.num_classes = key["num_classes"]
        self.top_k = key["top_k"]
        self.shard_size = key["shard_size"]
        self._arrays = [
            {
                name: np.load(self.directory / file, mmap_mode="r")
                for name, file in shard["files"].items()
            }
            for shard in manifest["shards"]
        ]

    # -- construction ---------------------------------------------------
    @classmethod
    def get_or_build(
        cls,
        directory,
        teacher,
        source,
        *,
        augment=None,
        draws=1,
        seed=0,
        top_k=None,
        shard_size=DEFAULT_SHARD_SIZE,
        batch_size=256,
        rebuild=False,
        verbose=True,
    ):
        """Opens the store in `directory` if it matches, else builds the
        missing or damaged shards (all of them for a store of other
        inputs, with `rebuild=True`) and writes the manifest.

        Args:
            directory: str or path-like. The store's folder (created).
            teacher: the frozen `keras.Model` whose logits are cached.
            source: an indexed source: `kd_toolkit.data.ImageFolder`.
            augment: `AugmentSpec` (pad-crop-flip), `ResizedCropSpec`
                (random-resized-crop + flip, ImageNet-style) or None (the
                plain images; `draws` must be 1).
            draws: int >= 1. Views per example.
            seed: int >= 0. Seed of the views.
            top_k: int >= 1 or None. Keep the k largest logits per view
                (and the log-sum-exp of the rest); None keeps all.
            shard_size: int >= 1. Examples per shard.
            batch_size: int >= 1. Teacher inference batch size.
            rebuild: bool. Replace a store made for other inputs, and a
                damaged shard, instead of raising.
            verbose: bool. One line per shard.

        Returns:
            A `ShardedTeacherCache`.

        Raises:
            StaleCacheError: if the store was made for other inputs
                (listing the differences) and `rebuild` is False.
            CorruptCacheError: naming a damaged shard, without `rebuild`.
            ValueError: on a bad argument, or a source file that cannot
                be decoded (named, before the teacher runs).
        """
        directory = pathlib.Path(directory)
        key = _make_key(
            teacher, source, augment, draws, seed, top_k, shard_size
        )
        manifest_path = directory / MANIFEST
        if manifest_path.exists():
            try:
                cache = cls._open(directory, manifest_path, key)
                if verbose:
                    print(f"[kd_toolkit] sharded cache hit: {directory}")
                return cache
            except teacher_cache.StaleCacheError:
                # Stale or damaged: only `rebuild` goes on, and rebuilds
                # only the shards that are not whole and of this key.
                if not rebuild:
                    raise
                manifest_path.unlink()
        directory.mkdir(parents=True, exist_ok=True)
        source.verify()  # undecodable files are named before the pass
        with _build_lock(directory):
            return cls._build_shards(
                directory, key, teacher, source, batch_size, verbose
            )

    @classmethod
    def _build_shards(
        cls, directory, key, teacher, source, batch_size, verbose
    ):
        manifest_path = directory / MANIFEST
        model = batch_norm_folding.fold_batch_norm(teacher, ())
        infer = tf.function(
            lambda x: tf.cast(model(x, training=False), tf.float32)
        )
        shards = []
        for index, start in enumerate(
            range(0, key["num_examples"], key["shard_size"])
        ):
            stop = min(start + key["shard_size"], key["num_examples"])
            shard = _existing_shard(directory, index, key)
            if shard is None:
                shard = _build_shard(
                    directory,
                    index,
                    start,
                    stop,
                    key,
                    source,
                    infer,
                    batch_size,
                )
                if verbose:
                    print(
                        f"[kd_toolkit] sharded cache: shard {index} "
                        f"(examples {start}..{stop - 1}) written",
                        flush=True,
                    )
            shards.append(shard)
        manifest = {"format": FORMAT_VERSION, "key": key, "shards": shards}
        atomic_write_text(
            manifest_path, json.dumps(manifest, indent=1), overwrite=True
        )
        return cls(directory, manifest)

    @classmethod
    def _open(cls, directory, manifest_path, key):
        stored = _read_json(manifest_path)
        diffs = _differences(key, stored.get("key", {}))
        if diffs:
            raise teacher_cache.StaleCacheError(
                f"The sharded teacher-output cache {str(directory)!r} was "
                f"made for other inputs: {'; '.join(diffs)}. Pass "
                "rebuild=True (or delete it) to recompute it."
            )
        _check_shards(directory, stored)
        return cls(directory, stored)

    def check(self):
        """Re-hashes every shard file against the manifest.

        Raises:
            CorruptCacheError: naming the first damaged file.
        """
        _check_shards(self.directory, self.manifest)

    # -- reading ----------------------------------------------------------

    def logits(self, ids, draws):
        """Teacher logits `(n, num_classes)` float32 of views `(ids[i],
        draws[i])`, rebuilt from top-k where the store keeps only those."""
        ids = np.asarray(ids, np.int64)
        draws = np.asarray(draws, np.int64)
        out = np.empty((len(ids), self.num_classes), np.float32)
        shard_of = ids // self.shard_size
        for s in np.unique(shard_of):
            rows = np.flatnonzero(shard_of == s)
            local = ids[rows] - s * self.shard_size
            arrays = self._arrays[s]
            values = np.asarray(arrays["values"][local, draws[rows]])
            if self.top_k is None:
                out[rows] = values
                continue
            indices = np.asarray(arrays["indices"][local, draws[rows]])
            rest = np.asarray(arrays["rest"][local, draws[rows]])
            out[rows] = rebuild_logits(values, indices, rest, self.num_classes)
        return out

    def dataset(self, source, batch_size, *, seed=0, shuffle=True):
        """Training batches replaying the cached views, the images
        streamed (decoded in parallel) from `source`.

        Each epoch, each example shows one of its `draws` views, picked
        at random (reproducibly from `seed`), in a shuffled order.

        Returns:
            A `tf.data.Dataset` of `({"inputs": x, "teacher_outputs": t},
            y)`, or of the inputs dict alone for a source without labels;
            `y` is -1 for unlabeled examples.

        Raises:
            StaleCacheError: if `source` is not the source of the store.
        """
        if source.fingerprint() != self.manifest["key"]["source"]:
            raise teacher_cache.StaleCacheError(
                "`source` is not the source this sharded cache was built "
                f"from (its manifest fingerprint differs). Received: "
                f"source with {source.num_examples} examples"
            )
        key = self.manifest["key"]
        draws = key["draws"]
        paths = tf.constant(source.paths)
        labels = None if source.labels is None else tf.constant(source.labels)
        crop = key["view"] == "resized_crop"
        types = (
            [tf.float32, tf.float32, tf.bool]
            if crop
            else [tf.float32, tf.int32, tf.int32, tf.bool]
        )

        def lookup(ids, picks):
            params = _params(key, ids, source.input_shape)
            at = np.arange(len(ids)), picks
            return (self.logits(ids, picks), *(p[at] for p in params))

        def gather(ids, images, pair):
            picks = tf.random.stateless_uniform(
                tf.shape(ids), pair, 0, draws, dtype=tf.int64
            )
            logits, *params = tf.numpy_function(
                lookup, [ids, picks], types, stateful=False
            )
            logits.set_shape([None, self.num_classes])
            params[0].set_shape([None, 4] if crop else [None])
            for t in params[1:]:
                t.set_shape([None])
            x = _views(tf.cast(images, tf.float32) / 255.0, key, params)
            x.set_shape([None, *source.input_shape])
            inputs = {
                teacher_cache.INPUTS_KEY: x,
                teacher_cache.TEACHER_OUTPUTS_KEY: logits,
            }
            if labels is None:
                return inputs
            return inputs, tf.cast(tf.gather(labels, ids), tf.int32)

        ids = tf.data.Dataset.range(self.num_examples)
        if shuffle:
            ids = ids.shuffle(
                self.num_examples, seed=seed, reshuffle_each_iteration=True
            )
        decoded = ids.map(
            lambda i: (i, source.decode(tf.gather(paths, i))),
            num_parallel_calls=tf.data.AUTOTUNE,
        ).batch(batch_size)
        seeds = tf.data.Dataset.random(
            seed=seed, rerandomize_each_iteration=True
        ).batch(2)
        return (
            tf.data.Dataset.zip((decoded, seeds))
            .map(
                lambda batch, pair: gather(batch[0], batch[1], pair),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
            .prefetch(tf.data.AUTOTUNE)
        )

    def bytes_per_view(self):
        """Stored bytes per (example, draw), all arrays together."""
        total = sum(
            (self.directory / f).stat().st_size
            for shard in self.manifest["shards"]
            for f in shard["files"].values()
        )
        return total / (self.num_examples * self.draws)


@contextlib.contextmanager
def _build_lock(directory):
    """One builder per store: an exclusive-create lock file holding the
    builder's process id. A second builder is refused, naming the first;
    a lock left by a process that no longer runs (a killed build) is
    taken over."""
    lock = pathlib.Path(directory) / LOCK
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                owner = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                owner = 0
            if owner and owner != os.getpid() and _running(owner):
                raise FileExistsError(
                    f"Another process (pid {owner}) is building the sharded "
                    f"teacher-output cache in {str(directory)!r}. Wait for it "
                    "(the finished store is then reused), or remove "
                    f"{str(lock)!r} if that process is gone. Received: "
                    f"directory={str(directory)!r}"
                ) from None
            lock.unlink(missing_ok=True)  # stale: its builder is gone
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        break
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _check_shards(directory, manifest):
    for shard in manifest.get("shards", ()):
        for name, file in shard["files"].items():
            path = pathlib.Path(directory) / file
            if not path.exists() or _sha256(path) != shard["sha256"][name]:
                raise teacher_cache.CorruptCacheError(
                    f"The shard file {str(path)!r} of the sharded "
                    "teacher-output cache is missing or damaged (its hash "
                    "differs from the manifest). Pass rebuild=True to "
                    "recompute that shard. Received: directory="
                    f"{str(directory)!r}"
                )


def rebuild_logits(values, indices, rest, num_classes):
    """Full logit rows from top-k values, their class ids and the
    log-sum-exp of the other logits (each set to `rest - log(C - k)`)."""
    k = values.shape[-1]
    fill = rest - np.log(max(num_classes - k, 1))
    out = np.repeat(fill[:, None], num_classes, axis=1).astype(np.float32)
    np.put_along_axis(out, indices.astype(np.int64), values, axis=1)
    return out


def _make_key(teacher, source, augment, draws, seed, top_k, shard_size):
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
        "teacher": teacher_cache.fingerprint_model(teacher),
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


def _differences(key, stored):
    out = []
    for name, value in key.items():
        theirs = stored.get(name)
        if theirs != value:
            if isinstance(value, str):
                value, theirs = value[:12], str(theirs)[:12]
            out.append(f"{name}: cache has {theirs}, expected {value}")
    return out


def _shard_files(index, key):
    names = _ARRAYS_FULL if key["top_k"] is None else _ARRAYS_TOP_K
    return {n: f"shard-{index:05d}.{n}.npy" for n in names}


def _existing_shard(directory, index, key):
    """The record of a finished, intact shard, or None to (re)build it."""
    record_path = directory / f"shard-{index:05d}.json"
    if not record_path.exists():
        return None
    try:
        record = json.loads(record_path.read_text())
    except (ValueError, UnicodeDecodeError):
        return None
    if record.get("key") != key:
        return None
    for name, file in record["files"].items():
        path = directory / file
        if not path.exists() or _sha256(path) != record["sha256"][name]:
            return None
    return {k: record[k] for k in ("start", "stop", "files", "sha256")}


def _build_shard(directory, index, start, stop, key, source, infer, batch_size):
    ids = np.arange(start, stop)
    params = _params(key, ids, source.input_shape)
    parts = {n: [] for n in _shard_files(index, key)}
    images = source.images(ids).batch(batch_size)
    offset = 0
    for batch in images:
        n = int(batch.shape[0])
        x = tf.cast(batch, tf.float32) / 255.0
        per_draw = []
        for d in range(key["draws"]):
            view = _views(
                x,
                key,
                [tf.constant(p[offset : offset + n, d]) for p in params],
            )
            logits = infer(view).numpy()
            teacher_cache._check_finite(
                [logits], start + offset, d, key["draws"]
            )
            per_draw.append(logits)
        logits = np.stack(per_draw, axis=1)  # (n, draws, C)
        if key["top_k"] is None:
            parts["values"].append(logits)
        else:
            values, indices, rest = _top_k(logits, key["top_k"])
            parts["values"].append(values)
            parts["indices"].append(indices)
            parts["rest"].append(rest)
        offset += n
    files = _shard_files(index, key)
    digests = {}
    for name, file in files.items():
        array = np.concatenate(parts[name])
        buffer = _npy_bytes(array)
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


def _top_k(logits, k):
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


def _npy_bytes(array):
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_json(path):
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise teacher_cache.CorruptCacheError(
            f"The manifest {str(path)!r} of the sharded teacher-output cache "
            f"is not readable ({type(error).__name__}). Pass rebuild=True to "
            f"rebuild the store. Received: path={str(path)!r}"
        ) from error
