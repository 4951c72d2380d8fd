"""Numerical parity of an artifact's outputs with the Keras outputs."""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Parity:
    """How closely candidate outputs match reference (Keras) outputs.

    Args:
        num_samples: int. Compared samples.
        max_abs_diff: float. `max |candidate - reference|` over all values.
        mean_abs_diff: float. Mean of `|candidate - reference|`.
        cosine_similarity: float. Mean over samples of the cosine between
            the candidate and reference output vectors.
        top1_agreement: float in [0, 1]. Fraction of samples with the same
            arg-max.
        accuracy: float or None. Candidate top-1 accuracy in percent.
        reference_accuracy: float or None. Reference top-1 accuracy in
            percent.
        accuracy_drop: float or None. `reference_accuracy - accuracy` in
            percentage points (positive: the candidate is worse).
        flip_margin: float. Twice the 99th percentile over samples of the
            largest per-sample output error: a prediction whose reference
            top-1 margin (first minus second output) exceeds it cannot be
            flipped by an error of the typical size (a flip needs the two
            outputs to move by more than the margin together).
        num_confident: int. Samples whose reference margin exceeds
            `flip_margin`.
        confident_top1_agreement: float in [0, 1]. Top-1 agreement on those
            samples (1.0 when there are none): what rounding cannot explain.
    """

    num_samples: int
    max_abs_diff: float
    mean_abs_diff: float
    cosine_similarity: float
    top1_agreement: float
    accuracy: float | None = None
    reference_accuracy: float | None = None
    accuracy_drop: float | None = None
    flip_margin: float = 0.0
    num_confident: int = 0
    confident_top1_agreement: float = 1.0


def top1_accuracy(outputs, labels):
    """Returns the top-1 accuracy of `outputs` (N, C) on `labels`, percent."""
    labels = np.asarray(labels).reshape(-1)
    return float(np.mean(np.argmax(outputs, axis=-1) == labels) * 100.0)


def compare_outputs(reference, candidate, labels=None):
    """Compares candidate outputs with reference outputs.

    Args:
        reference: float array `(N, C)`, e.g. Keras logits.
        candidate: float array `(N, C)`, e.g. artifact logits.
        labels: optional int array `(N,)`: adds accuracies.

    Returns:
        `Parity`.

    Raises:
        ValueError: if shapes differ, `N == 0` or `labels` has the wrong
            length.

    Example:

    ```python
    parity = compare_outputs(keras_logits, tflite_logits, y_test)
    parity.max_abs_diff, parity.top1_agreement
    ```
    """
    reference = np.asarray(reference, np.float64)
    candidate = np.asarray(candidate, np.float64)
    if reference.shape != candidate.shape or not len(reference):
        raise ValueError(
            "`candidate` must have the (non-empty) shape of `reference` "
            f"{reference.shape}. Received: candidate.shape={candidate.shape}"
        )
    n = len(reference)
    ref = reference.reshape(n, -1)
    cand = candidate.reshape(n, -1)
    diff = np.abs(cand - ref)
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(cand, axis=1)
    cosine = np.sum(ref * cand, axis=1) / np.maximum(norms, 1e-30)
    ref_top1 = np.argmax(ref, axis=1)
    cand_top1 = np.argmax(cand, axis=1)
    agree = ref_top1 == cand_top1
    flip_margin = 2.0 * float(np.quantile(diff.max(axis=1), 0.99))
    top2 = np.sort(ref, axis=1)[:, -2:] if ref.shape[1] > 1 else None
    margin = (
        (top2[:, 1] - top2[:, 0]) if top2 is not None else np.full(n, np.inf)
    )
    confident = margin > flip_margin
    accuracy = reference_accuracy = drop = None
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != n:
            raise ValueError(
                f"`labels` must have {n} entries, one per sample. "
                f"Received: len(labels)={len(labels)}"
            )
        ref_correct = int(np.sum(ref_top1 == labels))
        cand_correct = int(np.sum(cand_top1 == labels))
        reference_accuracy = ref_correct / n * 100.0
        accuracy = cand_correct / n * 100.0
        drop = (ref_correct - cand_correct) / n * 100.0
    return Parity(
        num_samples=n,
        max_abs_diff=float(diff.max()),
        mean_abs_diff=float(diff.mean()),
        cosine_similarity=float(np.mean(cosine)),
        top1_agreement=float(np.mean(agree)),
        accuracy=accuracy,
        reference_accuracy=reference_accuracy,
        accuracy_drop=drop,
        flip_margin=flip_margin,
        num_confident=int(np.sum(confident)),
        confident_top1_agreement=float(np.mean(agree[confident]))
        if np.any(confident)
        else 1.0,
    )
