"""SHA-256 of numpy arrays: what an in-memory cache source was made from."""

import hashlib

import numpy as np


def array_digest(*arrays):
    """Hex SHA-256 of each array's shape, dtype and bytes, in order (None
    entries are skipped)."""
    digest = hashlib.sha256()
    for array in arrays:
        if array is None:
            continue
        digest.update(f"{array.shape}{array.dtype}".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
