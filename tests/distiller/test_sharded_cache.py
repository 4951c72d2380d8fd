"""The streaming teacher-output cache: shards built from a folder, resumed
after a kill, refused when damaged, top-k, replayed at training time."""

import json

import keras
import numpy as np
import pytest

import kd_toolkit as kd
from kd_toolkit import data
from kd_toolkit.distiller import cache_views
from kd_toolkit.distiller import shard_build
from kd_toolkit.distiller.cache_files import CorruptCacheError
from kd_toolkit.distiller.cache_files import StaleCacheError
from kd_toolkit.distiller.sharded_cache import ShardedTeacherCache
from tests.data.image_files import write_image

SPEC = data.AugmentSpec(pad=2, flip=True)


def _folder(root, n=23, classes=5, labeled=True):
    rng = np.random.default_rng(0)
    for i in range(n):
        image = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        image[:, :3] //= 4  # asymmetric, so flips change the output
        sub = f"c{i % classes}/" if labeled else ""
        write_image(root / f"{sub}{i:03d}.png", image)
    return data.ImageFolder(
        root, (8, 8), labels="inferred" if labeled else None
    )


def _teacher(classes=5):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(8, 3, padding="same", name="conv")(inputs)
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    h = keras.layers.Dense(16, activation="relu")(h)
    return keras.Model(inputs, keras.layers.Dense(classes)(h), name="t")


def _build(directory, teacher, folder, **kwargs):
    args = dict(
        augment=SPEC,
        draws=3,
        shard_size=10,
        teacher_dtype="float32",
        verbose=False,
    )
    args.update(kwargs)
    return ShardedTeacherCache.get_or_build(directory, teacher, folder, **args)


def test_cached_views_are_the_teachers_outputs_on_the_views(tmp_path):
    folder, teacher = _folder(tmp_path / "img"), _teacher()
    cache = _build(tmp_path / "cache", teacher, folder)
    assert len(cache.manifest["shards"]) == 3  # 10 + 10 + 3 examples
    ids = np.arange(folder.num_examples)
    rows, cols, mirror = cache_views.view_params(0, ids, 3, 2, True)
    x, _ = folder.arrays()
    for d in range(3):
        view = data.batching.crop_and_flip(
            x, rows[:, d], cols[:, d], mirror[:, d], 2
        )
        np.testing.assert_allclose(
            cache.logits(ids, np.full(len(ids), d)),
            np.asarray(teacher(view, training=False)),
            rtol=1e-5,
            atol=1e-5,
        )


def test_view_params_do_not_depend_on_the_shard(tmp_path):
    a = cache_views.view_params(7, np.arange(100), 4, 3, True)
    b = cache_views.view_params(7, np.arange(50, 100), 4, 3, True)
    for whole, part in zip(a, b):
        np.testing.assert_array_equal(whole[50:], part)
    rows, cols, mirror = a
    assert rows.min() == 0 and rows.max() == 6 and cols.max() == 6
    assert 0.3 < mirror.mean() < 0.7


def test_a_killed_build_resumes_at_the_missing_shards_and_equals_a_fresh_one(
    tmp_path, monkeypatch
):
    folder, teacher = _folder(tmp_path / "img"), _teacher()
    fresh = _build(tmp_path / "fresh", teacher, folder)
    built = []
    real = shard_build.build_shard

    def dies_after_one(directory, index, *args):
        if built:
            raise KeyboardInterrupt  # the kill, after shard 0
        built.append(index)
        return real(directory, index, *args)

    monkeypatch.setattr(shard_build, "build_shard", dies_after_one)
    with pytest.raises(KeyboardInterrupt):
        _build(tmp_path / "resumed", teacher, folder)
    assert not (tmp_path / "resumed" / "manifest.json").exists()
    assert not list((tmp_path / "resumed").glob("*.tmp*"))
    redone = []

    def counting(directory, index, *args):
        redone.append(index)
        return real(directory, index, *args)

    monkeypatch.setattr(shard_build, "build_shard", counting)
    resumed = _build(tmp_path / "resumed", teacher, folder)
    assert redone == [1, 2]
    for shard_a, shard_b in zip(
        fresh.manifest["shards"], resumed.manifest["shards"]
    ):
        assert shard_a["sha256"] == shard_b["sha256"]  # bit for bit


def test_a_damaged_shard_is_named_and_rebuilt(tmp_path):
    folder, teacher = _folder(tmp_path / "img"), _teacher()
    cache = _build(tmp_path / "cache", teacher, folder)
    want = cache.logits(np.arange(23), np.zeros(23, int))
    victim = tmp_path / "cache" / "shard-00001.values.npy"
    content = bytearray(victim.read_bytes())
    content[-8:] = b"\xff" * 8
    victim.write_bytes(bytes(content))
    with pytest.raises(CorruptCacheError, match=r"shard-00001\.values\.npy"):
        _build(tmp_path / "cache", teacher, folder)
    rebuilt = _build(tmp_path / "cache", teacher, folder, rebuild=True)
    np.testing.assert_array_equal(
        rebuilt.logits(np.arange(23), np.zeros(23, int)), want
    )


def test_another_teacher_or_source_is_stale(tmp_path):
    folder, teacher = _folder(tmp_path / "img"), _teacher()
    _build(tmp_path / "cache", teacher, folder)
    other = _teacher()
    other.layers[-1].bias.assign(other.layers[-1].bias + 1.0)
    with pytest.raises(StaleCacheError, match=r"teacher: cache has"):
        _build(tmp_path / "cache", other, folder)
    with pytest.raises(StaleCacheError, match=r"draws: cache has 3"):
        _build(tmp_path / "cache", teacher, folder, draws=2)


def test_top_k_keeps_the_largest_logits_and_the_rest_mass(tmp_path):
    folder, teacher = _folder(tmp_path / "img"), _teacher()
    full = _build(tmp_path / "full", teacher, folder)
    top2 = _build(tmp_path / "top2", teacher, folder, top_k=2)
    exact = _build(tmp_path / "top5", teacher, folder, top_k=5)
    ids, draws = np.arange(23), np.ones(23, int)
    want = full.logits(ids, draws)
    np.testing.assert_array_equal(exact.logits(ids, draws), want)
    assert exact.top_k is None  # top_k = class count: every logit
    got = top2.logits(ids, draws)
    order = np.argsort(-want, axis=-1)[:, :2]
    np.testing.assert_allclose(
        np.take_along_axis(got, order, -1),
        np.take_along_axis(want, order, -1),
        rtol=1e-6,
    )

    # At τ = 1 the softmax of the kept classes, and the rest's total, are
    # exact.
    def softmax(z):
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    p, q = softmax(want), softmax(got)
    np.testing.assert_allclose(
        np.take_along_axis(q, order, -1),
        np.take_along_axis(p, order, -1),
        rtol=1e-5,
    )
    # Bytes: for 1000 classes, top-10 keeps 10 floats, 10 int16 ids and
    # one float, 64 bytes of 4,000 (1.6%).
    wide = _teacher(classes=1000)
    sizes = {
        k: _build(tmp_path / f"w{k}", wide, folder, top_k=k).bytes_per_view()
        for k in (10, None)
    }
    assert sizes[10] < 0.03 * sizes[None]


def test_training_streams_from_the_folder_and_the_store(tmp_path):
    folder, teacher = _folder(tmp_path / "img"), _teacher()
    cache = _build(tmp_path / "cache", teacher, folder)
    dataset = cache.dataset(folder, batch_size=8, seed=0)
    inputs, labels = next(iter(dataset))
    assert inputs["inputs"].shape == (8, 8, 8, 3)
    assert inputs["teacher_outputs"].shape == (8, 5)
    assert labels.dtype.name == "int32"
    keras.utils.set_random_seed(1)
    student = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(5),
        ]
    )
    distiller = kd.Distiller(teacher, student, losses=[kd.losses.KD(2.0)])
    distiller.compile(keras.optimizers.Adam(0.02))
    history = distiller.fit(dataset, epochs=6, verbose=0).history
    assert history["kd_loss"][-1] < history["kd_loss"][0]


def test_an_unlabeled_folder_caches_and_replays_without_labels(tmp_path):
    folder = _folder(tmp_path / "img", labeled=False)
    cache = _build(tmp_path / "cache", _teacher(), folder)
    element = next(iter(cache.dataset(folder, batch_size=4)))
    assert set(element) == {"inputs", "teacher_outputs"}


def test_an_undecodable_file_is_named_before_the_teacher_runs(
    tmp_path, monkeypatch
):
    folder_root = tmp_path / "img"
    _folder(folder_root)
    (folder_root / "c0" / "zz_broken.png").write_bytes(b"not an image")
    folder = data.ImageFolder(folder_root, (8, 8))

    def refuse(*args):
        raise AssertionError("the teacher ran")

    monkeypatch.setattr(shard_build, "build_shard", refuse)
    with pytest.raises(ValueError, match=r"c0/zz_broken\.png"):
        _build(tmp_path / "cache", _teacher(), folder)
    assert not (tmp_path / "cache" / "manifest.json").exists()


def test_without_the_check_a_failed_read_is_named_and_shards_are_kept(
    tmp_path,
):
    folder_root = tmp_path / "img"
    _folder(folder_root)
    # Sorted last: the first two shards (ids 0..19) build, the third fails.
    (folder_root / "c4" / "zz_broken.png").write_bytes(b"not an image")
    folder = data.ImageFolder(folder_root, (8, 8))
    with pytest.raises(ValueError, match=r"c4/zz_broken\.png"):
        _build(tmp_path / "cache", _teacher(), folder, check_files=False)
    cache = tmp_path / "cache"
    assert not (cache / "manifest.json").exists()
    assert sorted(p.name for p in cache.glob("shard-*.json")) == [
        "shard-00000.json",
        "shard-00001.json",
    ]
    assert not list(cache.glob(".*tmp*"))  # nothing half-written


def test_the_file_check_is_remembered_for_the_same_source(
    tmp_path, monkeypatch
):
    folder, teacher = _folder(tmp_path / "img"), _teacher()
    checks = []
    verify = folder.verify
    monkeypatch.setattr(folder, "verify", lambda: checks.append(verify()))
    _build(tmp_path / "cache", teacher, folder)
    (tmp_path / "cache" / "manifest.json").unlink()  # as after a kill
    _build(tmp_path / "cache", teacher, folder)
    assert len(checks) == 1
    _build(tmp_path / "other", teacher, folder)  # another store checks
    assert len(checks) == 2


def test_the_manifest_lists_every_shard_with_its_hashes(tmp_path):
    folder, teacher = _folder(tmp_path / "img"), _teacher()
    _build(tmp_path / "cache", teacher, folder, top_k=2)
    manifest = json.loads((tmp_path / "cache" / "manifest.json").read_text())
    assert [s["start"] for s in manifest["shards"]] == [0, 10, 20]
    assert set(manifest["shards"][0]["files"]) == {"values", "indices", "rest"}
    assert manifest["key"]["top_k"] == 2


@pytest.mark.parametrize(
    "augment",
    [SPEC, data.ResizedCropSpec(scale=(0.2, 1.0))],
    ids=["pad_crop", "resized_crop"],
)
def test_views_rebuilt_at_training_time_are_the_cached_views(tmp_path, augment):
    """The teacher on the view a batch carries gives the logits the batch
    carries: the view was rebuilt from (seed, id, draw) exactly."""
    folder, teacher = _folder(tmp_path / "img"), _teacher()
    cache = _build(tmp_path / "cache", teacher, folder, augment=augment)
    for inputs, _ in cache.dataset(folder, batch_size=8, seed=3):
        np.testing.assert_allclose(
            np.asarray(teacher(inputs["inputs"], training=False)),
            inputs["teacher_outputs"].numpy(),
            rtol=1e-5,
            atol=1e-5,
        )


def test_resized_crop_boxes_follow_the_scale_and_ratio():
    spec = {"scale": (0.08, 1.0), "ratio": (3 / 4, 4 / 3), "flip": True}
    boxes, mirror = cache_views.resized_crop_boxes(
        0, np.arange(2000), 2, spec, 64, 48
    )
    assert boxes.min() >= 0.0 and boxes.max() <= 1.0
    assert (boxes[..., 2] >= boxes[..., 0]).all()
    h = (boxes[..., 2] - boxes[..., 0]) * 63 + 1
    w = (boxes[..., 3] - boxes[..., 1]) * 47 + 1
    area = h * w / (64 * 48)
    assert area.min() > 0.06 and area.max() <= 1.0 and 0.4 < area.mean() < 0.6
    assert 0.3 < mirror.mean() < 0.7
    with pytest.raises(ValueError, match=r"Received: scale=\(0.0, 1.0\)"):
        data.ResizedCropSpec(scale=(0.0, 1.0))


def test_without_teacher_outputs_the_batches_hold_the_same_views(tmp_path):
    folder, teacher = _folder(tmp_path / "img"), _teacher()
    cache = _build(tmp_path / "cache", teacher, folder)
    with_outputs = cache.dataset(folder, batch_size=8, seed=5)
    plain = cache.dataset(folder, 8, seed=5, with_teacher_outputs=False)
    n = 0
    for (inputs, y), (x, y_plain) in zip(with_outputs, plain):
        np.testing.assert_array_equal(inputs["inputs"].numpy(), x.numpy())
        np.testing.assert_array_equal(y.numpy(), y_plain.numpy())
        n += len(x)
    assert n == 23
