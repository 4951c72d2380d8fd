"""The teacher-output cache under faults: corrupt files, paths that cannot
be written, a teacher that outputs NaN. Each is refused in the toolkit's
words, naming the file, before the teacher pass where it can be, and
`rebuild=True` replaces a corrupt file."""

import keras
import numpy as np
import pytest

import kd_toolkit as kd
from kd_toolkit.distiller import cache_files
from kd_toolkit.distiller.cache_files import CorruptCacheError
from kd_toolkit.distiller.teacher_cache import TeacherLogitsCache
from tests.distiller.cache_helpers import SPEC
from tests.distiller.cache_helpers import images
from tests.distiller.cache_helpers import net

ARGS = dict(augment=SPEC, draws=2, verbose=False)


def _good_cache(path, teacher, x):
    return TeacherLogitsCache.get_or_build(path, teacher, x, **ARGS)


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_bytes(path):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(
        b ^ 0xFF for b in data[middle : middle + 64]
    )
    path.write_bytes(bytes(data))


def _empty(path):
    path.write_bytes(b"")


def _other_npz(path):
    np.savez(path, weights=np.ones(3))


def _single_array(path):
    with open(path, "wb") as f:
        np.save(f, np.ones(3))


DAMAGES = {
    "truncated": _truncate,
    "bytes flipped": _flip_bytes,
    "empty": _empty,
    "another program's npz": _other_npz,
    "a single .npy array": _single_array,
}


@pytest.mark.parametrize("damage", list(DAMAGES), ids=list(DAMAGES))
def test_a_corrupt_cache_is_refused_naming_the_file_and_rebuilt(
    tmp_path, damage
):
    teacher, (x, _) = net("t", 4), images()
    path = tmp_path / "teacher.logits.npz"
    reference = _good_cache(path, teacher, x)
    DAMAGES[damage](path)
    with pytest.raises(
        CorruptCacheError,
        match=rf"{path.name}.*not a readable teacher-output cache.*"
        r"rebuild=True.*Received: path=",
    ):
        _good_cache(path, teacher, x)
    rebuilt = TeacherLogitsCache.get_or_build(
        path, teacher, x, rebuild=True, **ARGS
    )
    np.testing.assert_array_equal(rebuilt.outputs, reference.outputs)
    # The file on disk is whole again.
    again = _good_cache(path, teacher, x)
    np.testing.assert_array_equal(again.outputs, reference.outputs)


def test_a_path_without_npz_is_refused_before_the_teacher_pass(
    tmp_path, monkeypatch
):
    _fail_if_the_teacher_runs(monkeypatch)
    with pytest.raises(ValueError, match=r"must end in '\.npz'.*cache\.bin"):
        _good_cache(tmp_path / "cache.bin", net("t", 4), images()[0])


def test_an_unwritable_directory_is_refused_before_the_teacher_pass(
    tmp_path, monkeypatch
):
    # A read-only directory, as a non-root user sees it (root writes
    # anywhere, so the refusal is simulated where the write is tried).
    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cache_files.tempfile, "TemporaryFile", read_only)
    _fail_if_the_teacher_runs(monkeypatch)
    with pytest.raises(
        PermissionError, match=r"Cannot write.*locked.*Permission denied"
    ):
        _good_cache(tmp_path / "locked" / "t.npz", net("t", 4), images()[0])


def test_a_directory_that_cannot_be_created_is_refused_before_the_pass(
    tmp_path, monkeypatch
):
    blocker = tmp_path / "a_file"
    blocker.write_text("in the way")
    _fail_if_the_teacher_runs(monkeypatch)
    with pytest.raises(PermissionError, match=r"Cannot write.*a_file"):
        _good_cache(blocker / "sub" / "t.npz", net("t", 4), images()[0])


def test_a_full_disk_is_refused_before_the_teacher_pass(tmp_path, monkeypatch):
    _fail_if_the_teacher_runs(monkeypatch)
    monkeypatch.setattr(
        cache_files.shutil,
        "disk_usage",
        lambda path: type("Usage", (), {"free": 100})(),
    )
    with pytest.raises(OSError, match=r"needs about .* MiB free"):
        _good_cache(tmp_path / "t.npz", net("t", 4), images()[0])
    assert not list(tmp_path.iterdir())


def _fail_if_the_teacher_runs(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the teacher pass ran before the check")

    monkeypatch.setattr(TeacherLogitsCache, "_build", classmethod(refuse))


def _nan_for_bright_images(name="nan_teacher"):
    """A teacher whose logits are NaN where the image mean exceeds 1.5."""
    inputs = keras.Input((8, 8, 1))
    mean = keras.layers.GlobalAveragePooling2D()(inputs)
    logits = keras.layers.Dense(3, name="logits")(mean)
    poison = keras.layers.Lambda(
        lambda m: keras.ops.where(m > 1.5, np.nan, 0.0)
    )(mean)
    return keras.Model(inputs, keras.layers.Add()([logits, poison]), name=name)


def test_a_teacher_that_outputs_nan_is_refused_and_nothing_is_cached(
    tmp_path,
):
    x, _ = images(n=40)
    x[17] = 2.0  # bright: the teacher outputs NaN for it
    path = tmp_path / "t.npz"
    with pytest.raises(
        ValueError,
        match=r"teacher's outputs are not finite.*nothing was cached.*"
        r"Received: a non-finite teacher output for example 17",
    ):
        TeacherLogitsCache.get_or_build(
            path, _nan_for_bright_images(), x, augment=None, verbose=False
        )
    assert not path.exists()
    assert not list(tmp_path.iterdir())


def test_a_live_teacher_that_outputs_nan_is_named_and_weights_kept(tmp_path):
    x, y = images(n=32)
    x[20:] = 2.0  # the second batch makes the teacher output NaN
    teacher = _nan_for_bright_images()
    student = net("s", 2)
    distiller = kd.Distiller(teacher, student, check_teacher=False)
    distiller.compile("adam")
    with pytest.raises(
        FloatingPointError,
        match=r"Non-finite.*student_loss.*is finite: the teacher's outputs "
        r"\(or a distillation term\) are not finite.*restored to their values "
        r"at the start of epoch 1",
    ):
        distiller.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for weight in student.weights:
        assert np.isfinite(weight.numpy()).all(), weight.path
