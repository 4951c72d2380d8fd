"""Atomic, overwrite-aware file writes: no reader sees a half-written file."""

import os
import pathlib
import tempfile


def check_output_path(path, overwrite):
    """Validates a file path the export stage is about to write.

    Args:
        path: str or `os.PathLike`. Target file.
        overwrite: bool. Whether an existing file may be replaced.

    Returns:
        The path as a `pathlib.Path`.

    Raises:
        IsADirectoryError: if `path` is an existing directory.
        FileExistsError: if `path` exists and `overwrite` is False.
        FileNotFoundError: if the parent directory does not exist.
    """
    path = pathlib.Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"The output path is a directory, expected a file path. "
            f"Received: path={str(path)!r}"
        )
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"Refusing to overwrite the existing file {str(path)!r}; pass "
            f"overwrite=True (or --overwrite) to replace it. "
            f"Received: overwrite={overwrite}"
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"The output directory does not exist: {str(path.parent)!r}. "
            f"Received: path={str(path)!r}"
        )
    return path


def _file_mode():
    """Returns the mode a plain `open(path, "w")` would give: 0o666 & ~umask.

    `tempfile.mkstemp` creates 0o600 files; artifacts are meant to be shared.
    """
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path, data, overwrite=False):
    """Writes `data` to `path` through a temporary file and `os.replace`.

    The bytes go to a temporary file in the same directory, are flushed and
    fsynced, then renamed over `path` in one step. On any failure (including
    `KeyboardInterrupt`) the temporary file is removed and `path` is left as
    it was.

    Args:
        path: str or `os.PathLike`. Target file.
        data: bytes. Content.
        overwrite: bool. Whether an existing file may be replaced.
            Defaults to `False`.

    Returns:
        The written path as a `pathlib.Path`.

    Raises:
        TypeError: if `data` is not bytes.
        IsADirectoryError, FileExistsError, FileNotFoundError: see
            `check_output_path`.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(
            f"`data` must be bytes. Received: data of type "
            f"{type(data).__name__}"
        )
    path = check_output_path(path, overwrite)

    def write(tmp_name):
        with open(tmp_name, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    _replace_atomically(path, ".tmp", write)
    return path


def atomic_write_text(path, text, overwrite=False):
    """Writes UTF-8 `text` atomically; see `atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite)


def atomic_save_model(model, path, overwrite=False):
    """Saves a Keras model to a `.keras` path through a temporary file.

    Args:
        model: `keras.Model`.
        path: str or `os.PathLike` ending in `.keras`.
        overwrite: bool. Whether an existing file may be replaced.

    Returns:
        The written path as a `pathlib.Path`.

    Raises:
        ValueError: if `path` does not end in `.keras`.
        IsADirectoryError, FileExistsError, FileNotFoundError: see
            `check_output_path`.
    """
    if not str(path).endswith(".keras"):
        raise ValueError(
            f"Expected a path ending in '.keras'. Received: path={str(path)!r}"
        )
    path = check_output_path(path, overwrite)
    _replace_atomically(path, ".keras", model.save)
    return path


def atomic_save_weights(model, path):
    """Saves a Keras model's weights to a `.weights.h5` path atomically,
    replacing any previous file (a backup that is rewritten as it goes).

    Args:
        model: `keras.Model`.
        path: str or `os.PathLike` ending in `.weights.h5`.

    Returns:
        The written path as a `pathlib.Path`.

    Raises:
        ValueError: if `path` does not end in `.weights.h5`.
    """
    if not str(path).endswith(".weights.h5"):
        raise ValueError(
            "Expected a path ending in '.weights.h5'. "
            f"Received: path={str(path)!r}"
        )
    path = check_output_path(path, overwrite=True)
    _replace_atomically(path, ".weights.h5", model.save_weights)
    return path


def atomic_write_texts(texts, overwrite=False):
    """Writes several UTF-8 files atomically, checking every path first.

    Args:
        texts: dict, path -> text.
        overwrite: bool. Whether existing files may be replaced.

    Returns:
        The written paths as `pathlib.Path`s, in the order given.

    Raises:
        IsADirectoryError, FileExistsError, FileNotFoundError: see
            `check_output_path`; raised before any file is written.
    """
    for path in texts:
        check_output_path(path, overwrite)
    return [
        atomic_write_text(path, text, overwrite) for path, text in texts.items()
    ]


def _replace_atomically(path, suffix, write):
    """Calls `write(tmp_name)` on a temporary file beside `path`, then
    renames it over `path`; on any failure (including `KeyboardInterrupt`)
    the temporary file is removed and `path` is left as it was."""
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=suffix, dir=path.parent
    )
    os.close(fd)
    try:
        write(tmp_name)
        os.chmod(tmp_name, _file_mode())
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
        raise
