"""Tests of magnitude pruning with KD fine-tuning."""

import keras
import numpy as np
import pytest

from kd_toolkit.compress import PRUNE_FINE_TUNING
from kd_toolkit.compress import FineTuning
from kd_toolkit.compress.pruning import PruningSchedule
from kd_toolkit.compress.pruning import make_schedule
from kd_toolkit.compress.pruning import prune
from tests.compress import conftest
from tests.compress import helpers


def test_default_schedule_ramps_over_70_percent_of_the_steps():
    assert make_schedule(0.5, 100) == PruningSchedule(0.5, 0, 70, 7, 100)
    assert make_schedule(0.8, 32) == PruningSchedule(0.8, 0, 22, 2, 32)
    assert make_schedule(
        0.8, 100, begin_step=10, end_step=60, frequency=25
    ) == PruningSchedule(0.8, 10, 60, 25, 100)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            {"target_sparsity": 1.0},
            ValueError,
            r"> 0 and < 1\. Received: "
            "target_sparsity=1.0",
        ),
        (
            {"target_sparsity": "50%"},
            TypeError,
            "Received: target_sparsity='50%'",
        ),
        (
            {"end_step": 101},
            ValueError,
            r"must be in \(begin_step=0, "
            r"total_steps=100\].*end_step=101",
        ),
        (
            {"begin_step": 50, "end_step": 40},
            ValueError,
            "Received: end_step=40",
        ),
        (
            {"end_step": 50, "frequency": 7},
            ValueError,
            "multiple of frequency=7",
        ),
        ({"total_steps": 1}, ValueError, "Too few fine-tuning steps"),
        ({"frequency": 0}, ValueError, "Received: frequency=0"),
    ],
)
def test_bad_schedules(kwargs, error, match):
    args = {"target_sparsity": 0.5, "total_steps": 100, **kwargs}
    with pytest.raises(error, match=match):
        make_schedule(**args)


@pytest.mark.parametrize(
    "target, keep_first_layer", [(0.5, True), (0.8, False)]
)
def test_pruning_reaches_the_target_sparsity(target, keep_first_layer):
    dataset, x, _ = helpers.learnable_dataset(n=128)
    teacher = helpers.randomize_weights(helpers.tiny_cnn(name="teacher"))
    result = prune(
        helpers.tiny_cnn(),
        teacher,
        dataset,
        target_sparsity=target,
        fine_tuning=FineTuning(epochs=2, learning_rate=1e-3),
        keep_first_layer=keep_first_layer,
    )
    assert isinstance(result.model, keras.Model)
    assert result.model.name == "tiny_cnn"
    pruned = {"conv2/kernel", "logits/kernel"}
    if not keep_first_layer:
        pruned.add("conv1/kernel")
    assert set(result.sparsity.weights) == pruned
    conv1 = result.model.get_layer("conv1").get_weights()[0]
    if keep_first_layer:
        assert np.mean(conv1 == 0) < 0.05
    for name, zeros in result.sparsity.weights.items():
        size = result.model.get_layer(name.split("/")[0]).kernel.numpy().size
        # tfmot rounds the number of zeros: logits/kernel has 32 entries.
        assert abs(zeros - target) <= max(0.01, 1 / size), name
    assert abs(result.sparsity.zero_fraction - target) <= 0.01
    assert result.schedule.end_step <= result.history.steps == 8
    kernel = result.model.get_layer("conv2").get_weights()[0]
    assert np.mean(kernel == 0) == pytest.approx(
        result.sparsity.weights["conv2/kernel"]
    )
    assert np.all(np.isfinite(result.model.predict(x[:4], verbose=0)))


def test_layer_names_restrict_pruning():
    dataset, _, _ = helpers.learnable_dataset(n=128)
    result = prune(
        helpers.tiny_cnn(),
        None,
        dataset,
        target_sparsity=0.5,
        fine_tuning=FineTuning(epochs=2, learning_rate=1e-3),
        layer_names=["logits"],
    )
    assert list(result.sparsity.weights) == ["logits/kernel"]
    assert abs(result.sparsity.zero_fraction - 0.5) <= 0.01
    conv = result.model.get_layer("conv1").get_weights()[0]
    assert np.mean(conv == 0) < 0.05


def test_bad_layer_names_and_unknown_length():
    dataset, _, _ = helpers.learnable_dataset(n=64)
    with pytest.raises(ValueError, match=r"Received: layer_names=\['nope'\]"):
        prune(helpers.tiny_cnn(), None, dataset, layer_names=["nope"])
    with pytest.raises(ValueError, match="pass `steps_per_epoch`"):
        prune(helpers.tiny_cnn(), None, dataset.repeat())


@pytest.mark.slow
def test_real_data_pruning_keeps_accuracy(fmnist, fmnist_pair):
    train, x, y = fmnist
    teacher, student = fmnist_pair
    before = conftest.accuracy(student.predict(x, verbose=0), y)
    # The shipped student and teacher: the same start on every machine.
    # Measured here: 84.7% -> 83.7% (4 epochs, τ = 1); with 2 epochs at
    # τ = 4 it fell to 81.8%, and a lower learning rate did worse (77.2%):
    # the sparsity ramp needs steps to recover.
    result = prune(
        student,
        teacher,
        train,
        target_sparsity=0.5,
        fine_tuning=PRUNE_FINE_TUNING.replace(epochs=4, temperature=1.0),
    )
    after = conftest.accuracy(result.model.predict(x, verbose=0), y)
    assert abs(result.sparsity.zero_fraction - 0.5) <= 0.01
    assert before > 80.0  # the shipped student (83.39% on the full test set)
    print(f"float {before:.1f}%, 50% pruned {after:.1f}%")
    assert after >= before - 2.0, (before, after)
