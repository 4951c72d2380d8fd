"""The teacher-output cache's key (what a cache was made from), its file
(archive reading, where it lives) and the checks on both, for
`TeacherLogitsCache` and `ShardedTeacherCache`."""

import dataclasses
import errno
import hashlib
import json
import pathlib
import shutil
import tempfile
import zipfile

import numpy as np

from kd_toolkit.data.catalog import check_augment
from kd_toolkit.utils.array_digest import array_digest

# Cached features are held in memory and inside the input pipeline: cap
# them well below TensorFlow's 2 GiB limit on one constant.
MAX_FEATURE_BYTES = 1 << 30


class StaleCacheError(ValueError):
    """A cache file was made for another teacher, data or augmentation."""


class CorruptCacheError(StaleCacheError):
    """A cache file cannot be read: truncated, damaged, empty, or not a
    teacher-output cache. `rebuild=True` replaces it, as a stale one."""


@dataclasses.dataclass(frozen=True)
class CacheKey:
    """What a cache was computed from; any difference makes it stale.

    Args:
        teacher: str. SHA-256 of the teacher's architecture and weights.
        data: str. SHA-256 of the image array (shape, dtype and bytes).
        num_examples: int. Number of training examples.
        pad: int. Crop padding of the augmentation (0: none).
        flip: bool. Whether views may be flipped left-right.
        draws: int. Augmented views per example.
        seed: int. Seed of the crop offsets and flips.
        features: tuple of str. Teacher layers whose outputs are cached
            besides the logits (empty: logits only).
    """

    teacher: str
    data: str
    num_examples: int
    pad: int
    flip: bool
    draws: int
    seed: int
    features: tuple = ()

    def differences(self, other):
        """Human-readable list of the fields where `other` differs."""
        out = []
        for field in dataclasses.fields(self):
            mine, theirs = getattr(self, field.name), getattr(other, field.name)
            if mine != theirs:
                if isinstance(mine, str):
                    mine, theirs = mine[:12], theirs[:12]
                out.append(f"{field.name}: cache has {theirs}, expected {mine}")
        return out


def default_path(teacher_path, tag):
    """Where the cache of a `.keras` teacher file lives: beside it.

    `runs/teacher.keras` with tag `fashion_mnist-train-d8` gives
    `runs/teacher.fashion_mnist-train-d8.logits.npz`.
    """
    teacher_path = pathlib.Path(teacher_path)
    stem = teacher_path.name.removesuffix(".keras")
    return teacher_path.with_name(f"{stem}.{tag}.logits.npz")


def make_key(teacher, images, augment, draws, seed, feature_layers=()):
    """The `CacheKey` of a teacher, image array, augmentation and the
    cached feature layers."""
    if isinstance(feature_layers, str) or not all(
        isinstance(n, str) for n in feature_layers
    ):
        raise ValueError(
            "`feature_layers` must be a list of layer names. Received: "
            f"feature_layers={feature_layers!r}"
        )
    feature_layers = tuple(feature_layers)
    if len(set(feature_layers)) != len(feature_layers):
        raise ValueError(
            "`feature_layers` must not repeat a name. Received: "
            f"feature_layers={list(feature_layers)}"
        )
    check_augment(augment)
    for name, value, minimum in (("draws", draws, 1), ("seed", seed, 0)):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, np.integer))
            or value < minimum
        ):
            raise ValueError(
                f"`{name}` must be an int >= {minimum}. "
                f"Received: {name}={value!r}"
            )
    if augment is None and draws != 1:
        raise ValueError(
            "Without augmentation every draw is the same image: pass "
            f"draws=1 or an `augment` spec. Received: draws={draws}"
        )
    pad, flip = (
        (0, False)
        if augment is None
        else (int(augment.pad), bool(augment.flip))
    )
    return CacheKey(
        teacher=fingerprint_model(teacher),
        data=array_digest(images),
        num_examples=len(images),
        pad=pad,
        flip=flip,
        draws=int(draws),
        seed=int(seed),
        features=feature_layers,
    )


def fingerprint_model(model):
    """SHA-256 of a model's architecture config and every weight.

    Whether a layer is trainable does not change what the model computes,
    and a `Distiller` freezes its teacher: the config is hashed with every
    `trainable` flag set to True, so a teacher fingerprints the same
    before and after it is frozen."""
    digest = hashlib.sha256()
    config = json.dumps(
        as_trainable(model.get_config()), sort_keys=True, default=str
    )
    digest.update(config.encode("utf-8"))
    for weight in model.weights:
        value = np.ascontiguousarray(np.asarray(weight.numpy()))
        digest.update(weight.path.encode("utf-8"))
        digest.update(value.tobytes())
    return digest.hexdigest()


def as_trainable(config):
    if isinstance(config, dict):
        return {
            k: True if k == "trainable" else as_trainable(v)
            for k, v in config.items()
        }
    if isinstance(config, (list, tuple)):
        return [as_trainable(v) for v in config]
    return config


def read_archive(path):
    """`(meta, arrays)` of a cache file; anything unreadable is a
    `CorruptCacheError` naming the file."""
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("a single array, not an .npz archive")
        with archive:
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(str(arrays.pop("meta")))
        if not isinstance(meta, dict):
            raise ValueError("its metadata is not a dict")
    except (
        OSError,
        EOFError,
        KeyError,
        ValueError,
        zipfile.BadZipFile,
    ) as error:
        raise corrupt(path, error) from error
    return meta, arrays


def stored_key(meta, path):
    try:
        stored = dict(meta["key"])
        stored["features"] = tuple(stored.get("features", ()))
        return CacheKey(**stored)
    except (KeyError, TypeError, ValueError) as error:
        raise corrupt(path, error) from error


def corrupt(path, error):
    return CorruptCacheError(
        f"The file {str(path)!r} is not a readable teacher-output cache "
        f"({type(error).__name__}: {str(error)[:200]}): it is truncated, "
        "damaged, empty or another program's file. Delete it, or pass "
        f"rebuild=True to replace it. Received: path={str(path)!r}"
    )


def check_cache_path(path):
    """What can go wrong with `path` after the teacher pass, checked before
    it: the suffix, and a directory that can be created and written."""
    if path.suffix != ".npz":
        raise ValueError(
            "The teacher-output cache path must end in '.npz'. Received: "
            f"path={str(path)!r}"
        )
    if path.is_dir():
        raise IsADirectoryError(
            "The teacher-output cache path is a directory, expected a file "
            f"path. Received: path={str(path)!r}"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as error:
        raise PermissionError(
            f"Cannot write the teacher-output cache in {str(path.parent)!r} "
            f"({type(error).__name__}: {error.strerror or error}). Choose a "
            f"writable directory. Received: path={str(path)!r}"
        ) from error


def output_width(teacher):
    try:
        return int(teacher.outputs[0].shape[-1])
    except (AttributeError, IndexError, TypeError, ValueError):
        return 1000  # a subclassed model: assume a large head


def check_room(path, key, num_classes):
    """Refuses a build whose file would not fit on the disk."""
    per_view = num_classes * 4 + 2 * 4 + 1
    needed = key.num_examples * key.draws * per_view
    free = shutil.disk_usage(path.parent).free
    # Saving holds the archive in memory, then writes it once.
    if needed > free:
        raise OSError(
            errno.ENOSPC,
            f"The teacher-output cache needs about {needed / 2**20:.1f} MiB "
            f"but {str(path.parent)!r} has {free / 2**20:.1f} MiB free. Free "
            f"some space or choose another path. Received: path={str(path)!r}",
        )


def check_finite(outputs, start, draw, draws):
    """Refuses teacher outputs that are NaN or inf: they would be cached
    and distilled into the student as NaN."""
    for k, array in enumerate(outputs):
        bad = ~np.isfinite(array.reshape(len(array), -1)).all(axis=1)
        if bad.any():
            first = start + int(np.flatnonzero(bad)[0])
            what = "outputs" if k == 0 else f"cached feature {k}"
            raise ValueError(
                f"The teacher's {what} are not finite (NaN or inf) for "
                f"{int(bad.sum())} views of the batch starting at example "
                f"{start} (draw {draw + 1}/{draws}); nothing was cached. "
                "Check the teacher on those images (its weights, its "
                "preprocessing). Received: a non-finite teacher output for "
                f"example {first}"
            )


def feature_entry(name):
    """The `.npz` entry of the cached feature `name`."""
    return f"feature:{name}"


def check_feature_size(taps, key):
    """Refuses features whose cache would exceed `MAX_FEATURE_BYTES`."""
    sizes = {}
    for name, tensor in zip(key.features, taps.outputs[1:]):
        per_view = int(np.prod(tensor.shape[1:]))
        sizes[name] = per_view * 4 * key.num_examples * key.draws
    total = sum(sizes.values())
    if total > MAX_FEATURE_BYTES:
        listed = ", ".join(
            f"{n}: {b / 2**20:.0f} MiB" for n, b in sizes.items()
        )
        raise ValueError(
            f"The cached features would take {total / 2**20:.0f} MiB "
            f"({listed}) for {key.num_examples} images × {key.draws} "
            f"draws; at most {MAX_FEATURE_BYTES // 2**20} MiB are "
            "cached. Cache small features (a pooled embedding) and let "
            "losses that read activation maps run the teacher. Received: "
            f"feature_layers={list(key.features)}"
        )


def check_images(images):
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            "`images` must be an array of shape (N, H, W, C). Received: "
            f"images.shape={images.shape}"
        )
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(
            "`images` must be floats as the models take them (e.g. from "
            "kd_toolkit.data.load_numpy, in [0, 1]). Received: images of "
            f"dtype {images.dtype}"
        )
    return images
