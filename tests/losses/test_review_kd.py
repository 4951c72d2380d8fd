"""ReviewKD: the hierarchical context loss by hand, the review structure,
gradients, errors, save/load and a few fit steps."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kd_toolkit as kd
from kd_toolkit import losses
from kd_toolkit.losses.feature_ops import adaptive_average_pool
from kd_toolkit.losses.review_kd import hierarchical_context_loss


def _map(values):
    """A `(1, h, w, 1)` float32 map from a 2-D list."""
    return tf.constant(np.asarray(values, "float32")[None, :, :, None])


def test_hierarchical_context_loss_by_hand():
    zeros = _map(np.zeros((2, 2)))
    # 2x2: only the 1x1 level is smaller than the map. Full size:
    # (1 + 9 + 1 + 9) / 4 = 5; means 0 against 2: 4, weight 1/2; the
    # weights sum to 1.5.
    got = hierarchical_context_loss(zeros, _map([[1, 3], [1, 3]]))
    np.testing.assert_allclose(got.numpy(), [(5 + 0.5 * 4) / 1.5], 1e-6)
    # 8x8 checkerboard of ±1 against 0: 1 at full size, 0 at 4x4, 2x2 and
    # 1x1 (every 2x2 block averages 0); the weights sum to 1.875.
    board = np.indices((8, 8)).sum(axis=0) % 2 * 2.0 - 1.0
    got = hierarchical_context_loss(_map(np.zeros((8, 8))), _map(board))
    np.testing.assert_allclose(got.numpy(), [1 / 1.875], 1e-6)
    # Two vertical halves, 0 and 2, against 0: full size 2; 4x4 and 2x2
    # keep the halves (2 each); 1x1 is the mean 1 (1).
    halves = np.concatenate([np.zeros((8, 4)), 2 * np.ones((8, 4))], 1)
    got = hierarchical_context_loss(_map(np.zeros((8, 8))), _map(halves))
    expected = (2 + 0.5 * 2 + 0.25 * 2 + 0.125 * 1) / 1.875
    np.testing.assert_allclose(got.numpy(), [expected], 1e-6)


def test_adaptive_pooling_by_hand_and_its_gradient():
    # 3x3 to 2x2: the bins are rows/columns [0, 2) and [1, 3), overlapping.
    x = _map([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    np.testing.assert_allclose(
        adaptive_average_pool(x, (2, 2)).numpy()[0, :, :, 0],
        [[3, 4], [6, 7]],
        1e-6,
    )
    # A 7x7 map (stage 3 of a 28x28 resnet) pools to 4x4, 2x2 and 1x1, and
    # the loss has a gradient there (an area resize would have none).
    rng = np.random.default_rng(0)
    student = tf.Variable(rng.standard_normal((2, 7, 7, 3)), dtype="float32")
    teacher = tf.constant(rng.standard_normal((2, 7, 7, 3)), "float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(hierarchical_context_loss(student, teacher))
    grad = tape.gradient(loss, student)
    assert grad is not None and np.abs(grad.numpy()).sum() > 0
    np.testing.assert_allclose(
        adaptive_average_pool(student, (1, 1)).numpy()[:, 0, 0],
        student.numpy().mean(axis=(1, 2)),
        rtol=1e-5,
    )


def _features(rng):
    """Teacher and student maps at three levels, shallow to deep."""
    sizes = ((8, 6, 4), (4, 8, 6), (2, 12, 8))  # (h, teacher c, student c)
    teacher = {
        f"t{i}": tf.constant(rng.standard_normal((3, h, h, tc)), "float32")
        for i, (h, tc, _) in enumerate(sizes)
    }
    student = {
        f"s{i}": tf.Variable(
            rng.standard_normal((3, h, h, sc)), dtype="float32"
        )
        for i, (h, _, sc) in enumerate(sizes)
    }
    return teacher, student


def _built_loss(teacher, student, **kwargs):
    loss = losses.ReviewKD([(f"t{i}", f"s{i}") for i in range(3)], **kwargs)
    loss.build_from_features(
        {k: tuple(v.shape) for k, v in teacher.items()},
        {k: tuple(v.shape) for k, v in student.items()},
    )
    return loss


def _compute(loss, teacher, student, training=True):
    return loss.compute(
        losses.LossInputs(
            labels=None,
            teacher_logits=None,
            student_logits=None,
            teacher_features={
                k: tf.stop_gradient(v) for k, v in teacher.items()
            },
            student_features=student,
            training=training,
        )
    )["review_kd_loss"]


def test_each_level_reviews_the_deeper_student_features():
    teacher, student = _features(np.random.default_rng(0))
    loss = _built_loss(teacher, student)
    # mid channels: the deepest student map's (8); the deepest level has
    # nothing deeper to fuse.
    assert [f.attention is None for f in loss.fusions] == [False, False, True]
    assert loss.fusions[0].reduce.layers[0].filters == 8
    with tf.GradientTape(persistent=True) as tape:
        shallow, _ = loss.fusions[0](student["s0"], None, training=False)
        shallow = tf.reduce_sum(shallow)
        total = tf.reduce_sum(_compute(loss, teacher, student))
    # The shallowest output alone ignores the deeper maps; inside the loss
    # it is fused with them, so every student map reaches the loss.
    assert tape.gradient(shallow, student["s2"]) is None
    assert tape.gradient(shallow, student["s0"]) is not None
    for name in ("s0", "s1", "s2"):
        grad = tape.gradient(total, student[name]).numpy()
        assert np.abs(grad).sum() > 0, name
    for variable in loss.trainable_variables:
        grad = tape.gradient(total, variable)
        assert grad is not None and np.isfinite(grad.numpy()).all()
    teacher_var = tf.Variable(teacher["t0"])
    with tf.GradientTape() as tape:
        out = _compute(loss, {**teacher, "t0": teacher_var}, student)
    assert tape.gradient(out, teacher_var) is None


def test_warm_up_ramps_the_weight():
    teacher, student = _features(np.random.default_rng(1))
    loss = _built_loss(teacher, student, warmup_steps=4)
    at_start = _compute(loss, teacher, student, training=False)  # step 0
    np.testing.assert_allclose(at_start.numpy(), 0.0)
    # Training steps 1..5 on the same batch (batch statistics, so the
    # unweighted loss is the same each time): 1/4, 2/4, 3/4, 1, 1.
    values = [_compute(loss, teacher, student).numpy() for _ in range(5)]
    full = values[3]
    assert np.all(full > 0)
    for value, scale in zip(values, (0.25, 0.5, 0.75, 1.0, 1.0)):
        np.testing.assert_allclose(value, scale * full, rtol=1e-5)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="Received: layer_pairs=\\[\\]"):
        losses.ReviewKD([])
    with pytest.raises(ValueError, match="Received: mid_channels=0"):
        losses.ReviewKD([("a", "b")], mid_channels=0)
    with pytest.raises(ValueError, match=r"\['layer_pairs'\]"):
        losses.get("review_kd")
    loss = losses.ReviewKD([("a", "b")])
    with pytest.raises(ValueError, match="student layer 'b' with shape"):
        loss.build_from_features({"a": (None, 4, 4, 2)}, {"b": (None, 8)})


def _net(name, width):
    keras.utils.set_random_seed(width)
    i = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(i)
    x = keras.layers.Identity(name="stage1_out")(x)
    x = keras.layers.Conv2D(2 * width, 3, 2, "same", activation="relu")(x)
    x = keras.layers.Identity(name="stage2_out")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(i, keras.layers.Dense(3)(x), name=name)


def test_by_name_save_load_and_a_few_fit_steps_lower_the_loss(tmp_path):
    pairs = [("stage1_out", "stage1_out"), ("stage2_out", "stage2_out")]
    loss = losses.get("review_kd", layer_pairs=pairs)
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss)
    )
    assert clone.get_config() == loss.get_config()
    rng = np.random.default_rng(0)
    x = rng.random((64, 8, 8, 1), dtype="float32")
    y = rng.integers(0, 3, 64)
    distiller = kd.Distiller(
        _net("t", 8), _net("s", 4), losses=[loss], student_loss_weight=0.0
    )
    distiller.compile(keras.optimizers.Adam(0.02))
    history = distiller.fit(
        x, y, batch_size=32, epochs=6, verbose=0, shuffle=False
    ).history
    assert history["review_kd_loss"][-1] < history["review_kd_loss"][0]
    path = tmp_path / "distiller.keras"
    distiller.save(path)
    again = keras.models.load_model(path)
    (restored,) = again.distillation_losses
    assert len(restored.weights) == len(loss.weights)
    for w, v in zip(loss.weights, restored.weights):
        np.testing.assert_array_equal(w.numpy(), v.numpy())
