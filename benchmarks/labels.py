"""Which training images keep their label in protocol v3's few-labels
runs (the rest are unlabeled). Free of flags, so tests import it."""

import numpy as np


def labeled_subset(y, n, num_classes, seed=0):
    """Sorted ids of `n` training images, `n / num_classes` per class,
    drawn with `seed` (fixed: every method and student seed gets the
    same labeled images)."""
    if n % num_classes or n // num_classes > np.bincount(y).min():
        raise ValueError(
            f"--labeled must be a multiple of the {num_classes} classes, "
            f"at most {num_classes * np.bincount(y).min()}. Received: "
            f"labeled={n}"
        )
    rng = np.random.default_rng(seed)
    ids = [
        rng.choice(np.flatnonzero(y == c), n // num_classes, replace=False)
        for c in range(num_classes)
    ]
    return np.sort(np.concatenate(ids))
