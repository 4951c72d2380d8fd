"""XLA (`jit_compile=True`) gives the same numbers as graph mode."""

import keras
import numpy as np
import pytest

import kd_toolkit as kd
from kd_toolkit.distiller.jit import auto_jit_compile
from tests.adaptation import toy_models


def _net(name, filters, classes=3, levels=1):
    """`levels=2` adds a second, 4x4 feature map ("feat2")."""
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(filters, 3, padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="feat")(x)
    if levels == 2:
        x = keras.layers.Conv2D(
            filters, 3, 2, padding="same", activation="relu", name="feat2"
        )(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(
        inputs, keras.layers.Dense(classes, name="logits")(x), name=name
    )


def _data(n=48, classes=3):
    rng = np.random.default_rng(0)
    y = rng.integers(0, classes, n)
    x = rng.normal(size=(n, 8, 8, 1)).astype("float32") + y[:, None, None, None]
    return x, y


LOSSES = {
    "kd": lambda: [kd.losses.KD(2.0)],
    "kd_standardized": lambda: [kd.losses.KD(2.0, standardize=True)],
    "dkd": lambda: [kd.losses.DKD(warmup_steps=2)],
    "rkd": lambda: [kd.losses.RKD("feat", "feat")],
    "sp": lambda: [kd.losses.SimilarityPreserving("feat", "feat")],
    "pkt": lambda: [kd.losses.PKT("feat", "feat")],
    "hint": lambda: [kd.losses.KD(2.0), kd.losses.Hint("feat", "feat")],
    "at": lambda: [kd.losses.AttentionTransfer([("feat", "feat")])],
    "crd": lambda: [kd.losses.CRD("pool", "pool", feat_dim=8)],
    "review_kd": lambda: [
        kd.losses.ReviewKD([("feat", "feat")], warmup_steps=2)
    ],
    # Two levels: the deeper fused map is upsampled (8x8 from 4x4) into
    # the shallower one's fusion, and the gradient flows back through it.
    "review_kd_levels": lambda: [
        kd.losses.ReviewKD([("feat", "feat"), ("feat2", "feat2")])
    ],
}


def _fit(make_losses, jit_compile, levels=1):
    keras.utils.set_random_seed(0)
    teacher = _net("t", 8, levels=levels)
    student = _net("s", 4, levels=levels)
    distiller = kd.Distiller(teacher, student, losses=make_losses())
    distiller.compile(keras.optimizers.SGD(0.05), jit_compile=jit_compile)
    assert distiller.jit_compile is jit_compile
    x, y = _data()
    history = distiller.fit(
        x, y, batch_size=16, epochs=2, shuffle=False, verbose=0
    )
    return history.history, student.get_weights()


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_same_losses_and_weights_with_and_without_xla(name):
    levels = 2 if name == "review_kd_levels" else 1
    off, weights_off = _fit(LOSSES[name], False, levels)
    on, weights_on = _fit(LOSSES[name], True, levels)
    for key in off:
        np.testing.assert_allclose(on[key], off[key], rtol=2e-4, err_msg=key)
    for a, b in zip(weights_on, weights_off):
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize("cached", [False, True])
def test_ama_trains_its_adapters_under_xla(cached):
    # cached: "ama_cached", KD from the original teacher's cached logits,
    # each adapter learning from its own terms.
    results = []
    for jit_compile in (False, True):
        keras.utils.set_random_seed(0)
        teacher = toy_models.randomize_bn(toy_models.tiny_resnet())
        adapted = kd.adaptation.adapt_teacher(
            teacher,
            [
                kd.adaptation.Replacement(
                    start="block1_out",
                    end="block3_out",
                    student_layer="block2_out",
                )
            ],
            local_gradients=cached,
        )
        student = toy_models.tiny_resnet("student", width=4)
        distiller = kd.Distiller(
            adapted.model,
            student,
            losses=[
                kd.losses.KD(4.0),
                kd.losses.ActivationMapAdaptation(adapted.replacements),
            ],
        )
        distiller.compile(keras.optimizers.SGD(0.05), jit_compile=jit_compile)
        x, y = toy_models.toy_data(48)
        if cached:
            cache = kd.TeacherLogitsCache.build(teacher, x, verbose=False)
            history = distiller.fit(
                cache.dataset(x, y, batch_size=16, shuffle=False),
                epochs=2,
                verbose=0,
            )
        else:
            history = distiller.fit(
                x, y, batch_size=16, epochs=2, shuffle=False, verbose=0
            )
        results.append(history.history)
    assert "adapter_ce_loss" in results[1]
    for key in results[0]:
        np.testing.assert_allclose(
            results[1][key], results[0][key], rtol=5e-4, err_msg=key
        )


def test_auto_and_bad_values():
    distiller = kd.Distiller(_net("t", 8), _net("s", 4))
    distiller.compile("adam")
    assert distiller.jit_compile is auto_jit_compile(distiller)
    with pytest.raises(ValueError, match="Received: jit_compile='yes'"):
        distiller.compile("adam", jit_compile="yes")
