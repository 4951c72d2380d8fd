"""Tests for kd_toolkit.data.array_source: an array as an indexed source,
and the sharded teacher-output cache built from one."""

import pickle

import numpy as np
import pytest

from kd_toolkit import data
from tests.distiller import test_sharded_cache as sharded


def test_examples_are_the_rows_as_floats():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (6, 4, 4, 3), dtype=np.uint8)
    as_uint8 = data.ArraySource(x, np.arange(6) % 2, class_names=["a", "b"])
    as_float = data.ArraySource(x.astype(np.float32) / 255.0)
    assert as_uint8.input_shape == (4, 4, 3) and as_uint8.num_classes == 2
    assert as_float.labels is None and as_float.num_classes is None
    ids = np.array([4, 0, 5])
    for source in (as_uint8, as_float):
        got = np.stack(list(source.examples(ids).as_numpy_iterator()))
        np.testing.assert_array_equal(got, x[ids].astype(np.float32) / 255.0)
    # Builder processes receive the source pickled.
    copy = pickle.loads(pickle.dumps(as_uint8))
    np.testing.assert_array_equal(
        copy.example(np.int64(3)).numpy(), x[3] / np.float32(255.0)
    )


def test_the_fingerprint_follows_the_images_and_the_labels():
    x = np.zeros((4, 2, 2, 1), np.float32)
    base = data.ArraySource(x, [0, 1, 0, 1]).fingerprint()
    assert data.ArraySource(x, [0, 1, 0, 1]).fingerprint() == base
    assert data.ArraySource(x, [0, 1, 1, 1]).fingerprint() != base
    x[2, 1, 1, 0] = 0.5
    assert data.ArraySource(x, [0, 1, 0, 1]).fingerprint() != base


def test_bad_arrays_are_refused():
    with pytest.raises(ValueError, match=r"shape \(4, 2, 2\) and dtype"):
        data.ArraySource(np.zeros((4, 2, 2), np.float32))
    with pytest.raises(ValueError, match="dtype int32"):
        data.ArraySource(np.zeros((4, 2, 2, 1), np.int32))
    with pytest.raises(ValueError, match="Received: 3 labels"):
        data.ArraySource(np.zeros((4, 2, 2, 1)), [0, 1, 2])


def test_an_array_store_holds_the_folders_logits(tmp_path):
    """The same images from files and from memory: the sharded store's
    logits are equal bit for bit, and training batches stream from it."""
    folder, teacher = sharded._folder(tmp_path / "img"), sharded._teacher()
    x, y = folder.arrays()
    source = data.ArraySource(x, y)
    from_files = sharded._build(tmp_path / "files", teacher, folder)
    from_memory = sharded._build(tmp_path / "memory", teacher, source)
    ids = np.arange(len(x))
    for d in range(3):
        draw = np.full(len(ids), d)
        np.testing.assert_array_equal(
            from_memory.logits(ids, draw), from_files.logits(ids, draw)
        )
    seen = 0
    for inputs, labels in from_memory.dataset(source, batch_size=8):
        assert inputs["teacher_outputs"].shape[1:] == (5,)
        seen += len(labels)
    assert seen == len(x)
    with pytest.raises(sharded.StaleCacheError, match="not the source"):
        from_memory.dataset(folder, batch_size=8)


def test_a_source_that_is_not_indexed_is_refused(tmp_path):
    with pytest.raises(TypeError, match="Received: source of type ndarray"):
        sharded._build(
            tmp_path / "c", sharded._teacher(), np.zeros((3, 8, 8, 3))
        )
