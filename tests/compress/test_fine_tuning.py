"""Tests of the fine-tuning options shared by pruning and QAT."""

import dataclasses

import pytest

from kd_toolkit.compress import PRUNE_FINE_TUNING
from kd_toolkit.compress import QAT_FINE_TUNING
from kd_toolkit.compress import FineTuning
from kd_toolkit.compress.fine_tuning import check_fine_tuning


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"epochs": 0}, "Received: epochs=0"),
        ({"steps_per_epoch": 0}, "Received: steps_per_epoch=0"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"temperature": -1.0}, "Received: temperature=-1"),
        ({"ce_weight": -1.0}, "ce_weight"),
        ({"kd_weight": -0.5}, "Received: kd_weight=-0.5"),
        (
            {"optimizer": "lamb"},
            r"\['adam', 'sgd'\]\. Received: optimizer='lamb'",
        ),
        (
            {"lr_schedule": "step"},
            r"\['cosine', 'constant'\]\. Received: lr_schedule='step'",
        ),
    ],
)
def test_bad_values_name_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FineTuning(**kwargs)


def test_a_float_epoch_count_is_a_type_error():
    with pytest.raises(TypeError, match="Received: epochs=1.5 of type float"):
        FineTuning(epochs=1.5)


def test_replace_checks_the_copy_and_keeps_the_rest():
    tuning = FineTuning(epochs=3, temperature=2.0)
    copy = tuning.replace(learning_rate=1e-2)
    assert (copy.epochs, copy.temperature, copy.learning_rate) == (3, 2.0, 1e-2)
    assert tuning.learning_rate == 1e-4  # Frozen: the original is unchanged.
    with pytest.raises(ValueError, match="Received: epochs=0"):
        tuning.replace(epochs=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tuning.epochs = 5


def test_defaults_of_pruning_and_qat():
    assert (PRUNE_FINE_TUNING.epochs, PRUNE_FINE_TUNING.learning_rate) == (
        2,
        1e-3,
    )
    assert (QAT_FINE_TUNING.epochs, QAT_FINE_TUNING.learning_rate) == (1, 1e-4)


def test_check_fine_tuning():
    assert check_fine_tuning(None, QAT_FINE_TUNING) is QAT_FINE_TUNING
    tuning = FineTuning(epochs=4)
    assert check_fine_tuning(tuning, QAT_FINE_TUNING) is tuning
    with pytest.raises(TypeError, match="`qat_fine_tuning` must be"):
        check_fine_tuning({"epochs": 1}, QAT_FINE_TUNING, "qat_fine_tuning")
