"""Atomic file writes: a reader never sees a half-written file."""

import os
import tempfile


def atomic_write_bytes(path, data, overwrite=True):
    """Writes `data` to `path` through a temporary file and `os.replace`.

    Args:
        path: destination file path.
        data: bytes to write.
        overwrite: bool. If False and `path` exists, raise instead.

    Raises:
        IsADirectoryError: if `path` is a directory.
        FileExistsError: if `path` exists and `overwrite` is False.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"Expected a file path, got a directory. Received: path={path!r}")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(
            f"Refusing to overwrite an existing file; pass overwrite=True. "
            f"Received: path={path!r}")
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-",
                               suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_text(path, text, overwrite=True):
    """Writes UTF-8 `text` to `path` atomically (see `atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def atomic_save_model(model, path, overwrite=True):
    """Saves a Keras model to `path` (`.keras`) through a temporary file."""
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(
            f"Expected a path ending in '.keras'. Received: path={path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"Expected a file path, got a directory. Received: path={path!r}")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(
            f"Refusing to overwrite an existing file; pass overwrite=True. "
            f"Received: path={path!r}")
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".keras")
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
