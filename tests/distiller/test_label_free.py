"""Label-free and semi-supervised distillation: batches without labels
train the distillation terms alone; in a mix, the hard-label terms and
label-based metrics read the labeled examples only."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kd_toolkit as kd
from kd_toolkit.data import UNLABELED
from tests.distiller.cache_helpers import SPEC
from tests.distiller.cache_helpers import images
from tests.distiller.cache_helpers import net


def _pair(seed=0):
    keras.utils.set_random_seed(seed)
    return net("t", 8), net("s", 4)


def _teacher_values(teacher):
    return [w.numpy().copy() for w in teacher.weights]


@pytest.mark.parametrize("source", ["arrays", "dataset", "cache"])
def test_fit_without_labels_trains_the_distillation_terms_alone(
    source, tmp_path
):
    teacher, student = _pair()
    x, _ = images(n=64)
    before = _teacher_values(teacher)
    distiller = kd.Distiller(teacher, student, losses=[kd.losses.KD(2.0)])
    distiller.compile(keras.optimizers.Adam(0.02), metrics=["accuracy"])
    if source == "arrays":
        data = dict(x=x, batch_size=16)
    elif source == "dataset":
        data = dict(x=tf.data.Dataset.from_tensor_slices(x).batch(16))
    else:
        cache = kd.TeacherLogitsCache.get_or_build(
            tmp_path / "t.npz", teacher, x, augment=SPEC, draws=2, verbose=False
        )
        data = dict(x=cache.dataset(x, None, batch_size=16, seed=0))
    history = distiller.fit(epochs=8, verbose=0, **data).history
    assert history["kd_loss"][-1] < 0.7 * history["kd_loss"][0]
    assert history["student_loss"] == [0.0] * 8
    # No label, no accuracy: the metric saw no example.
    assert history["accuracy"] == [0.0] * 8
    for want, got in zip(before, teacher.weights):
        np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
def test_a_mixed_batch_applies_the_hard_label_loss_to_labeled_examples(jit):
    teacher, student = _pair()
    x, _ = images(n=8)
    # Labels the student gets right on the first four examples only.
    predicted = np.asarray(student(x, training=False)).argmax(-1)
    y = np.where(np.arange(8) < 4, predicted, (predicted + 1) % 3)
    mixed = y.copy()
    mixed[[1, 4, 5]] = UNLABELED
    weights = np.array([1, 2, 1, 1, 1, 0.5, 3, 1], "float32")
    distiller = kd.Distiller(
        teacher, student, losses=[kd.losses.KD(2.0)], student_loss_weight=0.5
    )
    distiller.compile("adam", metrics=["accuracy"], jit_compile=jit)
    logs = distiller.evaluate(
        x,
        mixed,
        sample_weight=weights,
        batch_size=8,
        verbose=0,
        return_dict=True,
    )
    # By hand: cross-entropy over the 5 labeled examples, weighted, divided
    # by their count (Keras's sum over the batch size, on labeled examples).
    logits = np.asarray(student(x, training=False), "float64")
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ce = -log_p[np.arange(8), y]
    known = mixed >= 0
    expected = 0.5 * (ce * weights * known).sum() / known.sum()
    assert logs["student_loss"] == pytest.approx(expected, rel=1e-5)
    # The KD term reads every example, the eight weights included.
    t = np.asarray(teacher(x, training=False), "float64") / 2.0
    s = logits / 2.0
    p_t = np.exp(t - t.max(-1, keepdims=True))
    p_t /= p_t.sum(-1, keepdims=True)
    log_s = s - np.log(np.exp(s).sum(-1, keepdims=True))
    log_t = np.log(p_t)
    kl = 4.0 * (p_t * (log_t - log_s)).sum(-1)
    assert logs["kd_loss"] == pytest.approx((kl * weights).sum() / 8, rel=1e-4)
    # Accuracy counts the labeled examples only (Keras's `metrics` are
    # unweighted).
    # Labeled: examples 0, 2, 3 (right) and 6, 7 (wrong): 3 of 5.
    assert logs["accuracy"] == pytest.approx(0.6)


def test_one_hot_rows_of_zeros_are_unlabeled():
    teacher, student = _pair()
    x, y = images(n=8)
    one_hot = keras.utils.to_categorical(y, 3)
    sparse = y.copy()
    one_hot[[0, 3]] = 0.0
    sparse[[0, 3]] = UNLABELED
    distiller = kd.Distiller(teacher, student)
    distiller.compile("adam")
    a = distiller.evaluate(
        x, one_hot, batch_size=8, verbose=0, return_dict=True
    )
    b = distiller.evaluate(x, sparse, batch_size=8, verbose=0, return_dict=True)
    assert a["student_loss"] == pytest.approx(b["student_loss"], rel=1e-6)


def test_labels_below_minus_one_are_still_refused():
    distiller = kd.Distiller(*_pair())
    distiller.compile("adam")
    x, y = images(n=8)
    y[2] = -2
    with pytest.raises(ValueError, match=r"-1 for an unlabeled.*y\[2\]=-2"):
        distiller.fit(x, y, epochs=1, verbose=0)


def test_ama_adapter_cross_entropy_reads_labeled_examples_only():
    from kd_toolkit.adaptation import Replacement
    from kd_toolkit.adaptation import adapt_teacher
    from tests.adaptation.toy_models import tiny_resnet

    keras.utils.set_random_seed(0)
    rep = Replacement("block1_out", "block3_out", student_layer="block2_out")
    teacher = adapt_teacher(tiny_resnet(), [rep]).model
    student = tiny_resnet("student", width=4)
    distiller = kd.Distiller(
        teacher, student, losses=[kd.losses.ActivationMapAdaptation([rep])]
    )
    distiller.compile("adam")
    x = np.random.default_rng(0).random((8, 8, 8, 1), dtype=np.float32)
    unlabeled = distiller.evaluate(x, verbose=0, return_dict=True)
    assert unlabeled["adapter_ce_loss"] == 0.0
    assert unlabeled["adapter_map_loss"] > 0.0
    y = np.arange(8) % 3
    labeled = distiller.evaluate(x, y, verbose=0, return_dict=True)
    assert labeled["adapter_ce_loss"] > 0.0
    assert labeled["adapter_map_loss"] == pytest.approx(
        unlabeled["adapter_map_loss"], rel=1e-6
    )
