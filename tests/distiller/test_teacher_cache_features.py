"""Tests of cached teacher features (the pooled embedding of RKD, SP, PKT
and CRD) in the teacher-output cache and the Distiller."""

import keras
import numpy as np
import pytest

import kd_toolkit as kd
from kd_toolkit.distiller import cache_files
from kd_toolkit.distiller import teacher_cache
from kd_toolkit.distiller.cache_files import StaleCacheError
from kd_toolkit.distiller.teacher_cache import TeacherLogitsCache
from tests.distiller.cache_helpers import SPEC
from tests.distiller.cache_helpers import images
from tests.distiller.cache_helpers import net


def test_cached_features_are_the_teacher_layer_on_the_same_view():
    teacher = net("t", 4)
    x, y = images()
    cache = TeacherLogitsCache.build(
        teacher,
        x,
        augment=SPEC,
        draws=3,
        feature_layers=["pool"],
        verbose=False,
    )
    assert cache.features["pool"].shape == (40, 3, 4)
    pool = keras.Model(teacher.inputs, teacher.get_layer("pool").output)
    for batch, _ in cache.dataset(x, y, batch_size=16, seed=1):
        views = batch[teacher_cache.INPUTS_KEY]
        cached = batch[teacher_cache.TEACHER_FEATURES_KEY]["pool"].numpy()
        np.testing.assert_allclose(
            pool(views).numpy(), cached, rtol=1e-5, atol=1e-6
        )
        np.testing.assert_allclose(
            teacher(views).numpy(),
            batch[teacher_cache.TEACHER_OUTPUTS_KEY].numpy(),
            rtol=1e-5,
            atol=1e-5,
        )
    # The same views as a logits-only cache with the same seed.
    plain = TeacherLogitsCache.build(
        teacher, x, augment=SPEC, draws=3, verbose=False
    )
    np.testing.assert_array_equal(plain.rows, cache.rows)
    np.testing.assert_array_equal(plain.mirror, cache.mirror)
    np.testing.assert_allclose(plain.outputs, cache.outputs, atol=1e-6)


def _distiller(teacher, loss):
    distiller = kd.Distiller(
        teacher,
        net("s", 2),
        losses=[kd.losses.KD(2.0, weight=0.5), loss],
        student_loss_weight=0.5,
    )
    distiller.compile("adam")
    return distiller


@pytest.mark.parametrize("name", ["rkd", "sp", "pkt", "crd"])
def test_embedding_losses_train_without_running_the_teacher(name):
    teacher = net("t", 4)
    x, y = images()
    cache = TeacherLogitsCache.build(
        teacher,
        x,
        augment=SPEC,
        draws=2,
        feature_layers=["pool"],
        verbose=False,
    )
    loss = kd.losses.get(name, teacher_layer="pool", student_layer="pool")
    distiller = _distiller(teacher, loss)
    args = dict(batch_size=20, seed=3, shuffle=False)
    live = distiller.evaluate(
        cache.dataset(x, y, with_teacher_outputs=False, **args),
        verbose=0,
        return_dict=True,
    )
    # Break the teacher: were it run, every term reading it would be NaN.
    for weight in teacher.weights:
        weight.assign(np.full(weight.shape, np.nan, np.float32))
    cached = distiller.evaluate(
        cache.dataset(x, y, **args), verbose=0, return_dict=True
    )
    assert f"{name}_loss" in cached, sorted(cached)
    for key in ("loss", "kd_loss", "student_loss", f"{name}_loss"):
        assert np.isfinite(cached[key]), key
        assert cached[key] == pytest.approx(live[key], rel=1e-4), key
    if name == "rkd":
        # Training from the cache works with the teacher still broken:
        # were it run, the first step would make every weight NaN.
        history = distiller.fit(
            cache.dataset(x, y, batch_size=20), epochs=2, verbose=0
        )
        assert np.isfinite(history.history["loss"]).all()
        student = distiller.student
        assert all(np.isfinite(w.numpy()).all() for w in student.weights)


def test_the_distiller_reads_the_cached_features():
    # Cached embeddings the live teacher never gives (all equal): SP's
    # teacher similarity is then a constant matrix, so its loss differs
    # from the live one, and matches the hand computation below.
    teacher = net("t", 4)
    x, y = images()
    cache = TeacherLogitsCache.build(
        teacher, x, feature_layers=["pool"], verbose=False
    )
    cache.features["pool"][:] = 1.0
    student = net("s", 2)
    distiller = kd.Distiller(
        teacher,
        student,
        losses=[
            kd.losses.get("sp", teacher_layer="pool", student_layer="pool")
        ],
        student_loss_weight=0.0,
    )
    distiller.compile("adam")
    cached = distiller.evaluate(
        cache.dataset(x, y, batch_size=40, shuffle=False),
        verbose=0,
        return_dict=True,
    )
    live = distiller.evaluate(x, y, batch_size=40, verbose=0, return_dict=True)
    key = "sp_loss"
    assert abs(cached[key] - live[key]) > 1e-4 * max(abs(live[key]), 1e-3)

    # SP (Tung & Mori 2019): G = row-normalise(F Fᵀ) for each network,
    # loss = ‖G_t − G_s‖²_F / b², worked out here in float64.
    def normalised_gram(f):
        g = f @ f.T
        return g / np.linalg.norm(g, axis=1, keepdims=True)

    pool = keras.Model(student.inputs, student.get_layer("pool").output)
    f_s = pool(x).numpy().astype(np.float64)
    g_t = normalised_gram(np.ones((40, 4)))
    expected = np.sum((g_t - normalised_gram(f_s)) ** 2) / 40**2
    weight = distiller.distillation_losses[0].weight
    assert cached[key] == pytest.approx(weight * expected, rel=1e-3)


def test_a_loss_needing_an_uncached_feature_runs_the_teacher():
    teacher = net("t", 4)
    x, y = images()
    cache = TeacherLogitsCache.build(
        teacher, x, feature_layers=["pool"], verbose=False
    )
    distiller = _distiller(teacher, kd.losses.Hint("feat", "feat"))
    cached = distiller.evaluate(
        cache.dataset(x, y, batch_size=40, shuffle=False),
        verbose=0,
        return_dict=True,
    )
    live = distiller.evaluate(x, y, batch_size=40, verbose=0, return_dict=True)
    assert cached["hint_loss"] == pytest.approx(live["hint_loss"], rel=1e-5)


def test_feature_caches_round_trip_and_refuse_other_features(tmp_path):
    teacher = net("t", 4)
    x, _ = images()
    path = tmp_path / "t.npz"
    built = TeacherLogitsCache.get_or_build(
        path,
        teacher,
        x,
        augment=SPEC,
        draws=2,
        feature_layers=["pool"],
        verbose=False,
    )
    loaded = TeacherLogitsCache.load(
        path, teacher, x, augment=SPEC, draws=2, feature_layers=["pool"]
    )
    assert loaded.key == built.key
    np.testing.assert_array_equal(
        loaded.features["pool"], built.features["pool"]
    )
    with pytest.raises(
        StaleCacheError, match=r"features: cache has \('pool',\)"
    ):
        TeacherLogitsCache.load(path, teacher, x, augment=SPEC, draws=2)


def test_feature_layer_errors(monkeypatch):
    teacher = net("t", 4)
    x, _ = images(n=8)
    with pytest.raises(
        ValueError,
        match=r"Closest names: \['pool'\].*Received: feature_layers='pol'",
    ):
        TeacherLogitsCache.build(
            teacher, x, feature_layers=["pol"], verbose=False
        )
    with pytest.raises(ValueError, match="Received: feature_layers='pool'"):
        TeacherLogitsCache.build(
            teacher, x, feature_layers="pool", verbose=False
        )
    with pytest.raises(ValueError, match="must not repeat"):
        TeacherLogitsCache.build(
            teacher, x, feature_layers=["pool", "pool"], verbose=False
        )
    # 8 images x 1 draw x (8*8*4) floats = 8 KiB: over a 4 KiB cap.
    monkeypatch.setattr(cache_files, "MAX_FEATURE_BYTES", 4096)
    with pytest.raises(
        ValueError, match=r"feat: 0 MiB.*feature_layers=\['feat'\]"
    ):
        TeacherLogitsCache.build(
            teacher, x, feature_layers=["feat"], verbose=False
        )


def test_embedding_methods_declare_the_cached_pool():
    for name in ("rkd", "sp", "pkt", "crd"):
        method = kd.recipes.methods.get(name)
        assert method.teacher_cache and method.cached_features == ("pool",)
        assert not method.logits_only
    for name in ("fitnets", "at", "review_kd"):
        method = kd.recipes.methods.get(name)
        assert not method.teacher_cache and method.cached_features == ()
