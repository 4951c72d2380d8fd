import numpy as np
import pytest
import tensorflow as tf

from kd_toolkit.adaptation import Replacement
from kd_toolkit.adaptation import adapt_teacher
from kd_toolkit.adaptation import warm_up
from tests.adaptation.toy_models import randomize_bn
from tests.adaptation.toy_models import tiny_resnet
from tests.adaptation.toy_models import toy_data


def _adapted():
    teacher = randomize_bn(tiny_resnet())
    return teacher, adapt_teacher(
        teacher,
        [
            Replacement("stem_out", "block1_out", name="a1"),
            Replacement("block1_out", "block3_out", name="a2"),
        ],
    )


def test_warm_up_lowers_fidelity_mse_and_touches_only_adapters():
    teacher, adapted = _adapted()
    x, y = toy_data(256)
    teacher_before = [w.copy() for w in teacher.get_weights()]
    adapter_before = [v.numpy().copy() for v in adapted.model.trainable_weights]
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    report = warm_up(adapted, data, steps=60, log_every=20, learning_rate=1e-2)
    assert report.steps == 60 and len(report.history) == 3
    assert report.final_mse < 0.6 * report.initial_mse
    assert report.history[-1] < report.history[0]
    assert set(report.per_adapter) == {"a1", "a2"}
    assert np.mean(list(report.per_adapter.values())) == pytest.approx(
        report.final_mse, rel=1e-4
    )
    assert all(
        np.array_equal(a, b)
        for a, b in zip(teacher_before, teacher.get_weights())
    )
    assert all(
        not np.array_equal(a, v.numpy())
        for a, v in zip(adapter_before, adapted.model.trainable_weights)
    )
    assert "adapter_fidelity_mse" in str(report)


def test_numpy_images_are_accepted():
    _, adapted = _adapted()
    x, _ = toy_data(64)
    report = warm_up(
        adapted, x, steps=4, log_every=2, batch_size=16, eval_batches=1
    )
    assert np.isfinite(report.final_mse)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(steps=0), "steps"),
        (dict(steps=10, log_every=3), "multiple of `log_every`"),
        (dict(learning_rate=0.0), "learning_rate"),
        (dict(learning_rate="fast"), "learning_rate='fast'"),
        (dict(eval_batches=0), "eval_batches"),
    ],
)
def test_bad_arguments(kwargs, match):
    _, adapted = _adapted()
    with pytest.raises(ValueError, match=match):
        warm_up(adapted, toy_data(8)[0], **kwargs)


def test_bad_inputs():
    teacher, adapted = _adapted()
    with pytest.raises(TypeError, match="AdaptedTeacher"):
        warm_up(teacher, toy_data(8)[0])
    with pytest.raises(TypeError, match="tf.data.Dataset"):
        warm_up(adapted, [[0.0]])
