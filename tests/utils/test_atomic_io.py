import os

import pytest

from kd_toolkit.utils.atomic_io import atomic_write_bytes
from kd_toolkit.utils.atomic_io import atomic_write_text


def test_writes_and_overwrites_only_when_asked(tmp_path):
    path = tmp_path / "a.tflite"
    atomic_write_bytes(path, b"first")
    assert path.read_bytes() == b"first"
    with pytest.raises(
        FileExistsError,
        match=r"Refusing to overwrite .*"
        r"a\.tflite.*Received: overwrite=False",
    ):
        atomic_write_bytes(path, b"second")
    assert path.read_bytes() == b"first"
    atomic_write_bytes(path, b"second", overwrite=True)
    assert path.read_bytes() == b"second"
    assert os.listdir(tmp_path) == ["a.tflite"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_directory_path_is_rejected(tmp_path):
    with pytest.raises(
        IsADirectoryError,
        match=r"is a directory.*Received: "
        r"path=",
    ):
        atomic_write_bytes(tmp_path, b"x", overwrite=True)


def test_missing_parent_and_bad_data(tmp_path):
    with pytest.raises(FileNotFoundError, match="output directory does not"):
        atomic_write_bytes(tmp_path / "no" / "a.onnx", b"x")
    with pytest.raises(TypeError, match="Received: data of type str"):
        atomic_write_bytes(tmp_path / "a.onnx", "text")


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt])
def test_failure_mid_write_leaves_nothing(tmp_path, monkeypatch, failure):
    path = tmp_path / "model.tflite"
    atomic_write_text(tmp_path / "keep.md", "old")
    path.write_bytes(b"previous good artifact")

    def broken_fsync(fd):
        raise failure

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(
        type(failure) if isinstance(failure, OSError) else failure
    ):
        atomic_write_bytes(path, b"new bytes" * 1000, overwrite=True)
    # The old file is intact and no temporary file is left behind.
    assert path.read_bytes() == b"previous good artifact"
    assert sorted(os.listdir(tmp_path)) == ["keep.md", "model.tflite"]
    with pytest.raises(
        type(failure) if isinstance(failure, OSError) else failure
    ):
        atomic_write_bytes(tmp_path / "fresh.onnx", b"abc")
    assert sorted(os.listdir(tmp_path)) == ["keep.md", "model.tflite"]
