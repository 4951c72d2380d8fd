"""Teacher-output cache: a frozen teacher's logits, computed once, on disk.

A frozen teacher gives the same output for the same input every time, so
distilling from it need not run it every step. `TeacherLogitsCache` runs the
teacher once over a fixed set of augmented views of the training images
(`draws` crops/flips of each example, FKD-style: Shen & Xing, "A Fast
Knowledge Distillation Framework for Visual Recognition", ECCV 2022) and
stores their logits with the crop offsets that produced them. Training then
replays those exact views: for each example and epoch one of its draws is
picked at random and the student sees the view whose teacher logits are
cached, so teacher and student stay consistent (the same augmented view)
while the teacher's cost is paid once for all epochs, seeds and runs.

Logits are cached, and on request small features: the pooled embedding
that RKD, SP, PKT and CRD read is 64 floats per view for resnet20
(`feature_layers=["pool"]`, 123 MB for 60k images × 8 draws), so those
losses also train without running the teacher. Hidden activation maps
(FitNets hints, attention transfer, AMA maps) are thousands of times
larger and are refused (`MAX_FEATURE_BYTES`): with losses that read them
the `Distiller` still runs the teacher for its features, and every loss
reads the cached logits in place of the teacher's own. This is how AMA
trains cheaply ("ama_cached"): KD reads the original teacher's cached
logits while only the cheaper adapted teacher runs.

Size: one class (build, load, save, stream); its key, file and checks are in
cache_files; to split next: the streaming dataset, shared with the sharded
cache.
"""

import dataclasses
import io
import json
import pathlib

import numpy as np
import tensorflow as tf

from kd_toolkit.data import batching
from kd_toolkit.distiller import batch_norm_folding
from kd_toolkit.distiller import cache_files
from kd_toolkit.distiller import feature_taps
from kd_toolkit.distiller.cache_files import MAX_FEATURE_BYTES
from kd_toolkit.distiller.cache_files import CacheKey
from kd_toolkit.distiller.cache_files import CorruptCacheError
from kd_toolkit.distiller.cache_files import StaleCacheError
from kd_toolkit.distiller.cache_files import default_path
from kd_toolkit.distiller.cache_files import make_key
from kd_toolkit.utils.array_digest import array_digest
from kd_toolkit.utils.atomic_io import atomic_write_bytes

# Keys of the input dict that cached datasets yield; see `split_inputs`.
INPUTS_KEY = "inputs"
TEACHER_OUTPUTS_KEY = "teacher_outputs"
TEACHER_FEATURES_KEY = "teacher_features"
FORMAT_VERSION = 1


class TeacherLogitsCache:
    """Teacher outputs for every (training example, augmentation draw).

    Build one with `TeacherLogitsCache.get_or_build(...)`, which loads a
    matching cache file or computes and writes it atomically; then train
    from `cache.dataset(...)`, whose batches carry the teacher's outputs so
    the `Distiller` skips the teacher's forward pass.

    Args:
        key: `CacheKey`. What the cache was computed from.
        outputs: float32 array `(num_examples, draws, num_classes)`. Raw
            teacher outputs (logits, or probabilities for a softmax teacher;
            the `Distiller` converts them as it converts a live teacher's).
        rows: int32 array `(num_examples, draws)`. Crop row offsets.
        cols: int32 array `(num_examples, draws)`. Crop column offsets.
        mirror: bool array `(num_examples, draws)`. Left-right flips.
        features: dict or None. For each name in `key.features`, a float32
            array `(num_examples, draws, ...)` of that teacher layer's
            outputs.

    Example:

    ```python
    x, y = kd_toolkit.data.load_numpy("fashion_mnist", "train")
    cache = kd_toolkit.TeacherLogitsCache.get_or_build(
        "runs/teacher.logits.npz", teacher, x,
        augment=kd_toolkit.data.augment_spec("fashion_mnist"), draws=8)
    distiller.fit(cache.dataset(x, y, batch_size=128, seed=0), epochs=10)
    ```
    """

    def __init__(self, key, outputs, rows, cols, mirror, features=None):
        self.key = key
        self.outputs = np.asarray(outputs, np.float32)
        self.rows = np.asarray(rows, np.int32)
        self.cols = np.asarray(cols, np.int32)
        self.mirror = np.asarray(mirror, bool)
        features = dict(features or {})
        if sorted(features) != sorted(key.features):
            raise ValueError(
                f"`features` must hold exactly the layers of the key, "
                f"{list(key.features)}. Received: features for "
                f"{sorted(features)}"
            )
        self.features = {
            name: np.asarray(features[name], np.float32)
            for name in key.features
        }
        expected = (key.num_examples, key.draws)
        for name, array in (
            ("outputs", self.outputs),
            ("rows", self.rows),
            ("cols", self.cols),
            ("mirror", self.mirror),
            *((f"features[{n!r}]", a) for n, a in self.features.items()),
        ):
            if array.shape[:2] != expected:
                raise ValueError(
                    f"`{name}` must have leading shape (num_examples, draws)"
                    f"={expected}. Received: {name}.shape={array.shape}"
                )

    # -- construction ---------------------------------------------------
    @classmethod
    def build(
        cls,
        teacher,
        images,
        *,
        augment=None,
        draws=1,
        seed=0,
        feature_layers=(),
        batch_size=512,
        verbose=True,
    ):
        """Runs the teacher over `draws` augmented views of every image.

        Args:
            teacher: the frozen `keras.Model` whose outputs are cached.
            images: float array `(N, H, W, C)`, as the model takes them
                (e.g. from `kd_toolkit.data.load_numpy`).
            augment: `AugmentSpec` or None. The crop/flip augmentation of
                the views; None caches the plain images (`draws` must be 1).
            draws: int >= 1. Augmented views per example.
            seed: int >= 0. Seed of the crop offsets and flips.
            feature_layers: sequence of teacher layer names whose outputs
                are cached too (small features such as a pooled
                embedding; at most `MAX_FEATURE_BYTES` in all).
            batch_size: int >= 1. Teacher inference batch size.
            verbose: bool. Print one progress line per draw.

        Returns:
            A `TeacherLogitsCache`.

        Raises:
            ValueError: on a bad argument (the message names it), an
                unknown layer name (listing close valid names) or features
                too large to cache.
        """
        images = cache_files.check_images(images)
        key = make_key(teacher, images, augment, draws, seed, feature_layers)
        return cls._build(teacher, images, key, batch_size, verbose)

    @classmethod
    def _build(cls, teacher, images, key, batch_size, verbose):
        """`build` for checked images and their key."""
        taps = feature_taps.build_view(
            teacher, key.features, "teacher", arg="feature_layers"
        )
        if taps is not None:
            cache_files.check_feature_size(taps, key)
        # The same function with batch norm folded into the convolutions:
        # one pass over each activation less.
        model = batch_norm_folding.fold_batch_norm(
            taps or teacher, key.features
        )
        rng = np.random.default_rng(key.seed)
        shape = (key.num_examples, key.draws)
        rows = rng.integers(0, 2 * key.pad + 1, shape, dtype=np.int32)
        cols = rng.integers(0, 2 * key.pad + 1, shape, dtype=np.int32)
        mirror = (
            (rng.random(shape) < 0.5) if key.flip else np.zeros(shape, bool)
        )
        infer = tf.function(
            lambda x: tf.nest.map_structure(
                lambda t: tf.cast(t, tf.float32), model(x, training=False)
            )
        )
        outputs = []
        for d in range(key.draws):
            chunks = []
            for start in range(0, key.num_examples, batch_size):
                end = min(start + batch_size, key.num_examples)
                view = batching.crop_and_flip(
                    tf.constant(images[start:end]),
                    rows[start:end, d],
                    cols[start:end, d],
                    tf.constant(mirror[start:end, d]),
                    key.pad,
                )
                out = infer(view)
                out = out if isinstance(out, (list, tuple)) else [out]
                out = [t.numpy() for t in out]
                cache_files.check_finite(out, start, d, key.draws)
                chunks.append(out)
            outputs.append([np.concatenate(c) for c in zip(*chunks)])
            if verbose:
                print(
                    f"[kd_toolkit] teacher-output cache: draw {d + 1}/"
                    f"{key.draws} ({key.num_examples} views)",
                    flush=True,
                )
        # outputs[draw][k]: k = 0 the logits, then the features in order.
        stacked = [np.stack(parts, axis=1) for parts in zip(*outputs)]
        features = dict(zip(key.features, stacked[1:]))
        return cls(key, stacked[0], rows, cols, mirror, features)

    @classmethod
    def load(
        cls,
        path,
        teacher,
        images,
        *,
        augment=None,
        draws=1,
        seed=0,
        feature_layers=(),
    ):
        """Loads a cache file and checks it matches the given inputs.

        Raises:
            FileNotFoundError: if `path` does not exist.
            StaleCacheError: if the file was computed for another teacher,
                other images, augmentation, number of draws, seed or
                cached feature layers; the message lists every difference.
        """
        images = cache_files.check_images(images)
        expected = make_key(
            teacher, images, augment, draws, seed, feature_layers
        )
        return cls._load(path, expected)

    @classmethod
    def _load(cls, path, expected):
        """`load` for the expected key."""
        if not pathlib.Path(path).exists():
            raise FileNotFoundError(
                f"No teacher-output cache at {str(path)!r}. Received: "
                f"path={str(path)!r}"
            )
        meta, arrays = cache_files.read_archive(path)
        if meta.get("format") != FORMAT_VERSION:
            raise StaleCacheError(
                f"The teacher-output cache {str(path)!r} has format "
                f"{meta.get('format')}, this version reads "
                f"{FORMAT_VERSION}. Delete it (or pass rebuild=True) to "
                "rebuild it."
            )
        stored = cache_files.stored_key(meta, path)
        diffs = expected.differences(stored)
        if diffs:
            raise StaleCacheError(
                f"The teacher-output cache {str(path)!r} is stale: "
                + "; ".join(diffs)
                + ". Delete the file (or pass "
                "rebuild=True) to recompute it for this teacher and "
                "data."
            )
        try:
            return cls(
                stored,
                arrays["outputs"],
                arrays["rows"],
                arrays["cols"],
                arrays["mirror"],
                {
                    n: arrays[cache_files.feature_entry(n)]
                    for n in stored.features
                },
            )
        except (KeyError, ValueError) as error:
            raise cache_files.corrupt(path, error) from error

    @classmethod
    def get_or_build(
        cls,
        path,
        teacher,
        images,
        *,
        augment=None,
        draws=1,
        seed=0,
        feature_layers=(),
        rebuild=False,
        batch_size=512,
        verbose=True,
    ):
        """Loads the cache at `path` if it matches, else builds and saves it.

        Args:
            path: str or path-like ending in `.npz`.
            rebuild: bool. Recompute and overwrite a stale file instead of
                raising.
            Other arguments: see `build`.

        Returns:
            A `TeacherLogitsCache`.

        Raises:
            StaleCacheError: if `path` holds a cache for other inputs and
                `rebuild` is False.
        """
        path = pathlib.Path(path)
        cache_files.check_cache_path(path)
        images = cache_files.check_images(images)
        key = make_key(teacher, images, augment, draws, seed, feature_layers)
        if path.exists():
            try:
                cache = cls._load(path, key)
                if verbose:
                    print(
                        f"[kd_toolkit] teacher-output cache hit: {path}",
                        flush=True,
                    )
                return cache
            except StaleCacheError as error:
                if not rebuild:
                    raise
                if verbose:
                    print(f"[kd_toolkit] rebuilding: {error}", flush=True)
        cache_files.check_room(path, key, cache_files.output_width(teacher))
        cache = cls._build(teacher, images, key, batch_size, verbose)
        cache.save(path, overwrite=True)
        return cache

    def save(self, path, overwrite=False):
        """Writes the cache to an `.npz` file atomically."""
        if not str(path).endswith(".npz"):
            raise ValueError(
                "Expected a path ending in '.npz'. Received: "
                f"path={str(path)!r}"
            )
        buffer = io.BytesIO()
        meta = {"format": FORMAT_VERSION, "key": dataclasses.asdict(self.key)}
        np.savez(
            buffer,
            meta=np.array(json.dumps(meta)),
            outputs=self.outputs,
            rows=self.rows,
            cols=self.cols,
            mirror=self.mirror,
            **{
                cache_files.feature_entry(n): a
                for n, a in self.features.items()
            },
        )
        return atomic_write_bytes(path, buffer.getvalue(), overwrite)

    # -- training data --------------------------------------------------
    def dataset(
        self,
        images,
        labels,
        batch_size,
        *,
        seed=0,
        shuffle=True,
        drop_remainder=False,
        with_teacher_outputs=True,
    ):
        """Training batches that replay the cached views.

        Each epoch, each example shows one of its `draws` views, picked at
        random (reproducibly from `seed`), in a shuffled order.

        Args:
            images: the same image array the cache was built from (checked).
            labels: int array `(N,)` or one-hot `(N, C)`; -1 (or a row
                of zeros) marks an unlabeled image. None: no labels at all,
                batches of inputs only (label-free distillation).
            batch_size: int >= 1.
            seed: int >= 0. Seeds the order and the choice of draws.
            shuffle: bool. Shuffle the examples each epoch.
            drop_remainder: bool. Drop the last, smaller batch.
            with_teacher_outputs: bool. True (default) yields
                `({"inputs": x, "teacher_outputs": t}, y)` for the
                `Distiller` (plus `"teacher_features": {layer: f}` when
                the cache holds features); False yields `(x, y)` with the
                same views and order, e.g. for the student trained alone as
                a paired baseline.

        Returns:
            A `tf.data.Dataset`.

        Raises:
            StaleCacheError: if `images` are not the images of the cache.
            ValueError: if `labels` do not match `images` in length.
        """
        images = cache_files.check_images(images)
        if array_digest(images) != self.key.data:
            raise StaleCacheError(
                "`images` are not the images this teacher-output cache was "
                f"built from. Received: images of shape {images.shape}, "
                f"cache built from {self.key.num_examples} images"
            )
        if labels is not None:
            labels = np.asarray(labels)
            if len(labels) != len(images):
                raise ValueError(
                    f"`labels` must have one entry per image ({len(images)})"
                    f". Received: labels of length {len(labels)}"
                )
        images_t = tf.constant(images)
        labels_t = None if labels is None else tf.constant(labels)
        outputs_t = tf.constant(self.outputs)
        rows_t, cols_t = tf.constant(self.rows), tf.constant(self.cols)
        mirror_t = tf.constant(self.mirror)
        features_t = {n: tf.constant(a) for n, a in self.features.items()}
        draws, pad = self.key.draws, self.key.pad

        def gather(index, pair):
            pick = tf.random.stateless_uniform(
                tf.shape(index), pair, 0, draws, dtype=tf.int32
            )
            at = tf.stack([index, pick], axis=-1)
            x = batching.crop_and_flip(
                tf.gather(images_t, index),
                tf.gather_nd(rows_t, at),
                tf.gather_nd(cols_t, at),
                tf.gather_nd(mirror_t, at),
                pad,
            )
            y = None if labels_t is None else tf.gather(labels_t, index)
            if not with_teacher_outputs:
                return x if y is None else (x, y)
            inputs = {
                INPUTS_KEY: x,
                TEACHER_OUTPUTS_KEY: tf.gather_nd(outputs_t, at),
            }
            if features_t:
                inputs[TEACHER_FEATURES_KEY] = {
                    n: tf.gather_nd(f, at) for n, f in features_t.items()
                }
            return inputs if y is None else (inputs, y)

        index = tf.data.Dataset.range(len(images))
        if shuffle:
            index = index.shuffle(
                len(images), seed=seed, reshuffle_each_iteration=True
            )
        index = index.batch(batch_size, drop_remainder=drop_remainder)
        index = index.map(lambda i: tf.cast(i, tf.int32))
        seeds = tf.data.Dataset.random(
            seed=seed, rerandomize_each_iteration=True
        ).batch(2)
        return (
            tf.data.Dataset.zip((index, seeds))
            .map(gather, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE)
        )


def split_inputs(x):
    """Splits a cached batch's inputs into `(inputs, outputs, features)`.

    `outputs` are the teacher's cached outputs, `features` a dict of its
    cached layer outputs (empty when the cache holds none). Returns
    `(x, None, {})` for an ordinary batch.
    """
    if isinstance(x, dict) and TEACHER_OUTPUTS_KEY in x:
        features = dict(x.get(TEACHER_FEATURES_KEY, {}))
        return x[INPUTS_KEY], x[TEACHER_OUTPUTS_KEY], features
    return x, None, {}


__all__ = [
    "MAX_FEATURE_BYTES",
    "CacheKey",
    "CorruptCacheError",
    "StaleCacheError",
    "TeacherLogitsCache",
    "default_path",
    "split_inputs",
]
