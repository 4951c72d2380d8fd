import numpy as np

from kd_toolkit.distiller.output_kind import LOGITS
from kd_toolkit.distiller.output_kind import PROBABILITIES
from kd_toolkit.distiller.output_kind import one_hot_labels
from kd_toolkit.distiller.output_kind import to_logits


def test_to_logits():
    p = np.array([[0.5, 0.25, 0.25, 0.0]], "float32")
    logits = np.asarray(to_logits(p, PROBABILITIES))
    np.testing.assert_allclose(
        logits[0, :3], np.log([0.5, 0.25, 0.25]), rtol=1e-6
    )
    assert logits[0, 3] == np.float32(np.log(1e-12))  # clipped, finite
    z = np.array([[3.0, -1.0]], "float64")
    out = to_logits(z, LOGITS)
    assert out.dtype == "float32"
    np.testing.assert_array_equal(out, z.astype("float32"))


def test_one_hot_labels():
    np.testing.assert_array_equal(
        one_hot_labels(np.array([[2], [0]]), 3), [[0, 0, 1], [1, 0, 0]]
    )
    soft = np.array([[0.2, 0.8, 0.0]])
    np.testing.assert_allclose(one_hot_labels(soft, 3), soft)
