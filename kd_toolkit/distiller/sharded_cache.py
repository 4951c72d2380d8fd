"""A teacher-output cache that streams: shards on disk, built from an
indexed source (a folder of images), never holding the images in memory.

`TeacherLogitsCache` keeps the image array and every output in memory;
this store keeps neither. Each training example has a stable integer id in
its source (`kd_toolkit.data.IndexedSource`: for an `ImageFolder` the
sorted file list, for an `ArraySource` the array's rows). For
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

Size: one class over the shard files (open, check, stream); to split next: the
streaming dataset.
"""

import json
import pathlib

import numpy as np
import tensorflow as tf

from kd_toolkit.distiller import cache_files
from kd_toolkit.distiller import cache_views
from kd_toolkit.distiller import shard_build
from kd_toolkit.distiller import teacher_cache
from kd_toolkit.utils import validation
from kd_toolkit.utils.atomic_io import atomic_write_text

FORMAT_VERSION = shard_build.FORMAT_VERSION
MANIFEST = "manifest.json"
# The fingerprint of the source whose files all decoded (check_files).
CHECKED = "checked-files.txt"
DEFAULT_SHARD_SIZE = 10_000


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
        teacher_dtype="auto",
        num_workers=1,
        batch_size=256,
        check_files=True,
        rebuild=False,
        verbose=True,
    ):
        """Opens the store in `directory` if it matches, else builds the
        missing or damaged shards (all of them for a store of other
        inputs, with `rebuild=True`) and writes the manifest.

        Several builders of one store share the work: each shard is
        claimed by one (`kd_toolkit.distiller.shard_build`), and a build
        killed midway resumes at the shards that are missing.

        Args:
            directory: str or path-like. The store's folder (created).
            teacher: the frozen `keras.Model` whose logits are cached.
            source: a `kd_toolkit.data.IndexedSource`: an `ImageFolder`
                (files), an `ArraySource` (an array in memory), or a
                subclass of your own.
            augment: `AugmentSpec` (pad-crop-flip), `ResizedCropSpec`
                (random-resized-crop + flip, ImageNet-style) or None (the
                plain images; `draws` must be 1).
            draws: int >= 1. Views per example.
            seed: int >= 0. Seed of the views.
            top_k: int >= 1 or None. Keep the k largest logits per view
                (and the log-sum-exp of the rest); None keeps all.
            shard_size: int >= 1. Examples per shard.
            teacher_dtype: "auto" (default), "float32" or "bfloat16". The
                teacher's compute dtype for the build; "auto" is bfloat16
                on a CPU that computes it natively
                (`kd_toolkit.distiller.teacher_dtype`). Part of the key.
            num_workers: int >= 1. Builder processes, each on its share of
                the cores, writing disjoint shards (1: this process). The
                teacher must round-trip through a `.keras` file.
            batch_size: int >= 1. Teacher inference batch size.
            check_files: bool. Read every example once before the
                teacher's pass (`source.verify()`), so an undecodable file
                is named before any work; remembered per source in the
                store's folder, so a resumed build does not repeat it. It
                costs a decode of every file (10% of a resnet20 teacher's
                inference at 64 px: `benchmarks/results/cache_scale.md`).
                False: the build's own reads are the check, and a file that
                fails stops the build there, named, its finished shards
                kept.
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
        key = shard_build.make_key(
            teacher,
            source,
            augment,
            draws,
            seed,
            top_k,
            shard_size,
            teacher_dtype,
        )
        num_workers = validation.check_int("num_workers", num_workers, 1)
        batch_size = validation.check_int("batch_size", batch_size, 1)
        manifest_path = directory / MANIFEST
        if manifest_path.exists():
            try:
                cache = cls._open(directory, manifest_path, key)
                if verbose:
                    print(f"[kd_toolkit] sharded cache hit: {directory}")
                return cache
            except cache_files.StaleCacheError:
                # Stale or damaged: only `rebuild` goes on, and rebuilds
                # only the shards that are not whole and of this key.
                if not rebuild:
                    raise
                manifest_path.unlink(missing_ok=True)
        directory.mkdir(parents=True, exist_ok=True)
        if check_files:
            _check_files_once(directory, source, key["source"])
        try:
            shards = shard_build.build_all(
                directory,
                key,
                teacher,
                source,
                batch_size,
                num_workers,
                verbose,
            )
        except Exception:
            if not check_files:
                source.verify()  # names the files a failed read hit
            raise
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
            raise cache_files.StaleCacheError(
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

    def dataset(
        self,
        source,
        batch_size,
        *,
        seed=0,
        shuffle=True,
        with_teacher_outputs=True,
    ):
        """Training batches replaying the cached views, the images
        streamed (decoded in parallel) from `source`.

        Each epoch, each example shows one of its `draws` views, picked
        at random (reproducibly from `seed`), in a shuffled order.

        Args:
            source: the indexed source the store was built from.
            batch_size: int >= 1.
            seed: int >= 0. Seeds the order and the choice of draws.
            shuffle: bool. Shuffle the examples each epoch.
            with_teacher_outputs: bool. False yields `(x, y)` (or `x`)
                with the same views in the same order and no logits: the
                student alone as a paired baseline, or the input pipeline
                measured without the store.

        Returns:
            A `tf.data.Dataset` of `({"inputs": x, "teacher_outputs": t},
            y)`, or of the inputs dict alone for a source without labels;
            `y` is -1 for unlabeled examples.

        Raises:
            StaleCacheError: if `source` is not the source of the store.
        """
        if source.fingerprint() != self.manifest["key"]["source"]:
            raise cache_files.StaleCacheError(
                "`source` is not the source this sharded cache was built "
                f"from (its manifest fingerprint differs). Received: "
                f"source with {source.num_examples} examples"
            )
        key = self.manifest["key"]
        draws = key["draws"]
        labels = None if source.labels is None else tf.constant(source.labels)
        crop = key["view"] == "resized_crop"
        types = [tf.float32, tf.bool] if crop else [tf.int32, tf.int32, tf.bool]
        if with_teacher_outputs:
            types = [tf.float32, *types]

        def lookup(ids, picks):
            params = cache_views.view_parameters(key, ids, source.input_shape)
            at = np.arange(len(ids)), picks
            params = [p[at] for p in params]
            if with_teacher_outputs:
                return (self.logits(ids, picks), *params)
            return tuple(params)

        def gather(ids, images, pair):
            picks = tf.random.stateless_uniform(
                tf.shape(ids), pair, 0, draws, dtype=tf.int64
            )
            params = tf.numpy_function(
                lookup, [ids, picks], types, stateful=False
            )
            if with_teacher_outputs:
                logits, *params = params
                logits.set_shape([None, self.num_classes])
            params[0].set_shape([None, 4] if crop else [None])
            for t in params[1:]:
                t.set_shape([None])
            x = cache_views.make_views(images, key, params)
            x.set_shape([None, *source.input_shape])
            inputs = x
            if with_teacher_outputs:
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
            lambda i: (i, source.example(i)),
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


def _check_files_once(directory, source, fingerprint):
    """`source.verify()`, skipped when this store's folder records that
    the same source (by fingerprint) passed it."""
    record = pathlib.Path(directory) / CHECKED
    if record.exists() and record.read_text().strip() == fingerprint:
        return
    source.verify()
    atomic_write_text(record, fingerprint, overwrite=True)


def _check_shards(directory, manifest):
    for shard in manifest.get("shards", ()):
        for name, file in shard["files"].items():
            path = pathlib.Path(directory) / file
            if (
                not path.exists()
                or shard_build.sha256(path) != shard["sha256"][name]
            ):
                raise cache_files.CorruptCacheError(
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


def _differences(key, stored):
    out = []
    for name, value in key.items():
        theirs = stored.get(name)
        if theirs != value:
            if isinstance(value, str):
                value, theirs = value[:12], str(theirs)[:12]
            out.append(f"{name}: cache has {theirs}, expected {value}")
    return out


def _read_json(path):
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise cache_files.CorruptCacheError(
            f"The manifest {str(path)!r} of the sharded teacher-output cache "
            f"is not readable ({type(error).__name__}). Pass rebuild=True to "
            f"rebuild the store. Received: path={str(path)!r}"
        ) from error
