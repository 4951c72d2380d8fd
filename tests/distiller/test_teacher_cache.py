"""Tests of the teacher-output cache and the Distiller's cached path."""

import os

import keras
import numpy as np
import pytest

import kd_toolkit as kd
from kd_toolkit.data.catalog import AugmentSpec
from kd_toolkit.distiller import teacher_cache
from kd_toolkit.distiller.cache_files import StaleCacheError
from kd_toolkit.distiller.teacher_cache import TeacherLogitsCache
from tests.distiller.cache_helpers import SPEC
from tests.distiller.cache_helpers import images
from tests.distiller.cache_helpers import net


def test_cached_views_reproduce_the_teacher_outputs():
    teacher = net("t", 4)
    x, y = images()
    cache = TeacherLogitsCache.build(
        teacher, x, augment=SPEC, draws=3, verbose=False
    )
    assert cache.outputs.shape == (40, 3, 3)
    seen = []
    for batch, labels in cache.dataset(x, y, batch_size=16, seed=1):
        views = batch[teacher_cache.INPUTS_KEY]
        np.testing.assert_allclose(
            teacher(views).numpy(),
            batch[teacher_cache.TEACHER_OUTPUTS_KEY].numpy(),
            rtol=1e-5,
            atol=1e-5,
        )
        seen.append(labels.numpy())
    assert sorted(np.concatenate(seen)) == sorted(y)
    # The draws are different views: their outputs differ.
    assert np.abs(cache.outputs[:, 0] - cache.outputs[:, 1]).max() > 1e-3


def test_every_draw_is_used_across_epochs():
    x, y = images(n=8)
    cache = TeacherLogitsCache.build(
        net("t", 4), x, augment=SPEC, draws=4, verbose=False
    )
    dataset = cache.dataset(x, y, batch_size=8, seed=0, shuffle=False)
    outputs = set()
    for _ in range(12):
        for batch, _ in dataset:
            first = batch[teacher_cache.TEACHER_OUTPUTS_KEY].numpy()[0]
            outputs.add(tuple(np.round(first, 5)))
    assert len(outputs) == 4


def _cached_and_live(distiller, cache, x, y, **args):
    """The Distiller's evaluation on cached batches and on the same views
    without cached outputs (the teacher run live)."""
    cached = distiller.evaluate(
        cache.dataset(x, y, **args), verbose=0, return_dict=True
    )
    live = distiller.evaluate(
        cache.dataset(x, y, with_teacher_outputs=False, **args),
        verbose=0,
        return_dict=True,
    )
    return cached, live


def test_cached_and_live_teacher_give_the_same_losses():
    teacher = net("t", 4)
    x, y = images()
    cache = TeacherLogitsCache.build(
        teacher, x, augment=SPEC, draws=2, verbose=False
    )
    distiller = kd.Distiller(
        teacher,
        net("s", 2),
        losses=[kd.losses.KD(2.0, weight=0.7)],
        student_loss_weight=0.3,
    )
    distiller.compile("adam")
    cached, live = _cached_and_live(
        distiller, cache, x, y, batch_size=16, seed=3, shuffle=False
    )
    for key in ("loss", "kd_loss", "student_loss"):
        assert cached[key] == pytest.approx(live[key], rel=1e-5), key


def test_the_distiller_uses_the_cached_outputs():
    teacher = net("t", 4)
    x, y = images()
    cache = TeacherLogitsCache.build(teacher, x, verbose=False)
    # A "teacher" the live one is not: the same logits for every image.
    fixed = np.array([2.0, 0.0, -1.0], dtype=np.float32)
    cache.outputs[:] = fixed
    student = net("s", 2)
    distiller = kd.Distiller(
        teacher, student, losses=[kd.losses.KD(1.0)], student_loss_weight=0.0
    )
    distiller.compile("adam")
    logs = distiller.evaluate(
        cache.dataset(x, y, batch_size=40, shuffle=False),
        verbose=0,
        return_dict=True,
    )
    # KL(p ‖ softmax(s)) = Σ_c p_c (log p_c − log softmax(s)_c), with
    # p = softmax(2, 0, −1), worked out in float64. (A uniform p made the
    # term ~5e-5, where float32 round-off alone moved it by 5e-4 relative.)
    log_p = fixed - np.log(np.sum(np.exp(fixed.astype(np.float64))))
    log_q = keras.ops.log_softmax(student(x)).numpy().astype(np.float64)
    expected = np.mean(np.sum(np.exp(log_p) * (log_p - log_q), axis=-1))
    assert expected > 0.1
    assert logs["kd_loss"] == pytest.approx(expected, rel=1e-5)


def test_fit_from_the_cache_lowers_the_loss():
    teacher = net("t", 4)
    x, y = images()
    cache = TeacherLogitsCache.build(
        teacher, x, augment=SPEC, draws=2, verbose=False
    )
    distiller = kd.Distiller(teacher, net("s", 2))
    distiller.compile(keras.optimizers.Adam(0.02))
    history = distiller.fit(
        cache.dataset(x, y, batch_size=8),
        epochs=6,
        verbose=0,
        validation_data=(x, y),
    )
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert "val_kd_loss" in history.history


def test_feature_losses_read_cached_logits_and_live_features():
    # The teacher still runs for the hint's features; KD reads the cache,
    # here a "teacher" the live one is not (the same logits for every
    # image), so the two sources cannot be confused.
    teacher = net("t", 4)
    x, y = images()
    cache = TeacherLogitsCache.build(teacher, x, verbose=False)
    cache.outputs[:] = np.array([2.0, 0.0, -1.0], dtype=np.float32)
    student = net("s", 2)
    distiller = kd.Distiller(
        teacher,
        student,
        losses=[kd.losses.KD(1.0), kd.losses.Hint("feat", "feat")],
        student_loss_weight=0.0,
    )
    distiller.compile("adam")
    cached, live = _cached_and_live(
        distiller, cache, x, y, batch_size=40, shuffle=False
    )
    assert cached["hint_loss"] == pytest.approx(live["hint_loss"], rel=1e-6)
    log_p = np.log(keras.ops.softmax(cache.outputs[:1]).numpy()[0])
    log_q = keras.ops.log_softmax(student(x)).numpy().astype(np.float64)
    expected = np.mean(np.sum(np.exp(log_p) * (log_p - log_q), axis=-1))
    assert cached["kd_loss"] == pytest.approx(expected, rel=1e-4)
    assert abs(cached["kd_loss"] - live["kd_loss"]) > 0.05


def test_cache_hit_miss_and_stale_refusal(tmp_path, capsys):
    teacher = net("t", 4)
    x, _ = images()
    path = tmp_path / "new_folder" / "teacher.logits.npz"
    built = TeacherLogitsCache.get_or_build(
        path, teacher, x, augment=SPEC, draws=2
    )
    assert "draw 2/2" in capsys.readouterr().out
    mtime = os.stat(path).st_mtime_ns
    hit = TeacherLogitsCache.get_or_build(
        path, teacher, x, augment=SPEC, draws=2
    )
    assert "cache hit" in capsys.readouterr().out
    assert os.stat(path).st_mtime_ns == mtime
    np.testing.assert_array_equal(hit.outputs, built.outputs)
    np.testing.assert_array_equal(hit.rows, built.rows)

    with pytest.raises(
        StaleCacheError,
        match=r"draws: cache has 2, "
        r"expected 3",
    ):
        TeacherLogitsCache.get_or_build(path, teacher, x, augment=SPEC, draws=3)
    retrained = net("t", 4)  # same architecture, other weights
    with pytest.raises(StaleCacheError, match=r"stale: teacher: cache has "):
        TeacherLogitsCache.load(path, retrained, x, augment=SPEC, draws=2)
    with pytest.raises(StaleCacheError, match="data: cache has"):
        TeacherLogitsCache.load(path, teacher, x[:-1], augment=SPEC, draws=2)
    with pytest.raises(StaleCacheError, match="pad: cache has 2, expected 1"):
        TeacherLogitsCache.load(
            path, teacher, x, augment=AugmentSpec(pad=1, flip=True), draws=2
        )
    rebuilt = TeacherLogitsCache.get_or_build(
        path, retrained, x, augment=SPEC, draws=2, rebuild=True, verbose=False
    )
    assert rebuilt.key.teacher != built.key.teacher
    assert (
        TeacherLogitsCache.load(path, retrained, x, augment=SPEC, draws=2).key
        == rebuilt.key
    )


def test_dataset_refuses_other_images():
    x, y = images()
    cache = TeacherLogitsCache.build(net("t", 4), x, verbose=False)
    with pytest.raises(StaleCacheError, match="not the images"):
        cache.dataset(x + 1.0, y, batch_size=8)
    with pytest.raises(ValueError, match="labels of length 3"):
        cache.dataset(x, y[:3], batch_size=8)


def test_save_is_atomic(tmp_path, monkeypatch):
    x, _ = images(n=4)
    cache = TeacherLogitsCache.build(net("t", 4), x, verbose=False)
    path = tmp_path / "c.npz"
    cache.save(path)
    with pytest.raises(FileExistsError, match="overwrite"):
        cache.save(path)
    before = path.read_bytes()

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        cache.save(path, overwrite=True)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz"]
    with pytest.raises(ValueError, match=r"\.npz'.*path='c.bin'"):
        cache.save("c.bin")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"draws": 0}, r"`draws` must be an int >= 1\. Received: draws=0"),
        ({"draws": 2, "augment": None}, "Received: draws=2"),
        ({"augment": "pad"}, "AugmentSpec or None. Received: augment='pad'"),
        ({"seed": -1}, "Received: seed=-1"),
    ],
)
def test_bad_arguments(kwargs, match):
    x, _ = images(n=4)
    with pytest.raises(ValueError, match=match):
        TeacherLogitsCache.build(net("t", 4), x, verbose=False, **kwargs)


def test_uint8_images_are_refused():
    x, _ = images(n=4)
    with pytest.raises(ValueError, match="dtype uint8"):
        TeacherLogitsCache.build(
            net("t", 4), (x * 255).astype("uint8"), verbose=False
        )


def test_default_path_sits_beside_the_teacher():
    path = teacher_cache.default_path("runs/demo/teacher.keras", "fm-d8")
    assert str(path) == os.path.join("runs", "demo", "teacher.fm-d8.logits.npz")


def test_a_frozen_teacher_fingerprints_as_before():
    # A Distiller freezes its teacher; the cache must still recognise it.
    from kd_toolkit.distiller.cache_files import fingerprint_model

    teacher = kd.models.get("simple_cnn", input_shape=(8, 8, 1), num_classes=3)
    before = fingerprint_model(teacher)
    student = kd.models.get("simple_cnn", input_shape=(8, 8, 1), num_classes=3)
    kd.Distiller(teacher, student, losses=["kd"])
    assert not teacher.trainable
    assert fingerprint_model(teacher) == before
    teacher.layers[1].kernel.assign(teacher.layers[1].kernel + 1.0)
    assert fingerprint_model(teacher) != before
