import numpy as np
import pytest

from kd_toolkit.export import compare_outputs


def test_hand_computed_parity():
    reference = np.array([[1.0, 0.0], [0.0, 2.0]])
    candidate = np.array([[1.0, 0.5], [1.0, 2.0]])
    parity = compare_outputs(reference, candidate, labels=[0, 0])
    assert parity.max_abs_diff == 1.0
    assert parity.mean_abs_diff == pytest.approx(1.5 / 4)
    cos0 = 1.0 / np.sqrt(1.25)
    cos1 = 4.0 / (2.0 * np.sqrt(5.0))
    assert parity.cosine_similarity == pytest.approx((cos0 + cos1) / 2)
    assert parity.top1_agreement == 1.0
    assert parity.reference_accuracy == 50.0
    assert parity.accuracy == 50.0 and parity.accuracy_drop == 0.0


def test_disagreement_and_drop():
    reference = np.array([[2.0, 1.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    candidate = reference.copy()
    candidate[0] = [1.0, 2.0]
    parity = compare_outputs(reference, candidate, labels=[0, 1, 1, 0])
    assert parity.top1_agreement == 0.75
    assert parity.accuracy_drop == 25.0
    assert compare_outputs(reference, candidate).accuracy is None


def test_shape_and_label_errors():
    with pytest.raises(ValueError, match=r"Received: candidate.shape=\(2, 3\)"):
        compare_outputs(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"Received: len\(labels\)=3"):
        compare_outputs(np.zeros((2, 2)), np.zeros((2, 2)), [0, 1, 1])


def test_agreement_on_confident_predictions():
    # 100 near-ties (margin 0.01) and 100 confident rows (margin 5); every
    # output moves by 0.02, which flips every near-tie and nothing else.
    ties = np.tile([[0.01, 0.0]], (100, 1))
    clear = np.tile([[5.0, 0.0]], (100, 1))
    reference = np.concatenate([ties, clear])
    candidate = reference + np.array([-0.02, 0.02])
    parity = compare_outputs(reference, candidate)
    assert parity.top1_agreement == 0.5
    # Per-sample max error 0.02 everywhere: flip margin 2 × 0.02.
    assert parity.flip_margin == pytest.approx(0.04)
    assert parity.num_confident == 100
    assert parity.confident_top1_agreement == 1.0
    # A confident prediction flipped by a large error is counted.
    candidate[150] = [0.0, 6.0]
    parity = compare_outputs(reference, candidate)
    assert parity.num_confident == 100
    assert parity.confident_top1_agreement == 0.99
