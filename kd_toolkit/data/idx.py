"""Reader for the IDX files of MNIST and Fashion-MNIST (gzipped or not).

The format (LeCun et al., http://yann.lecun.com/exdb/mnist/): a 4-byte
magic number `0x00 0x00 <type> <ndim>`, then `ndim` big-endian uint32
dimension sizes, then the values in row-major order, big-endian.
"""

import gzip
import os

import numpy as np

_GZIP_MAGIC = b"\x1f\x8b"

# IDX type code -> numpy dtype (big-endian where it matters).
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# split -> (images file stem, labels file stem), as MNIST ships them.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path):
    """Reads one IDX file into a numpy array.

    Gzip compression is detected from the file content, not its name.

    Args:
        path: str or path-like. The IDX file, optionally gzipped.

    Returns:
        A numpy array with the file's shape; integer types come back in
        native byte order.

    Raises:
        FileNotFoundError: if `path` does not exist.
        ValueError: naming the file, if the magic number, the type code or
            the payload size is wrong (a truncated or corrupt file).
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise ValueError(
                f"Corrupt gzip data in IDX file '{path}': {e}"
            ) from e
    return parse_idx(raw, path)


def parse_idx(raw, path="<bytes>"):
    """Parses the bytes of an (uncompressed) IDX file; see `read_idx`."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"Not an IDX file: '{path}' does not start with the magic "
            f"bytes 0x00 0x00. Received first bytes: {raw[:4]!r}"
        )
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_DTYPES:
        raise ValueError(
            f"Unknown IDX type code in '{path}'. Expected one of "
            f"{[hex(c) for c in _IDX_DTYPES]}. Received: {hex(type_code)}"
        )
    if ndim == 0:
        raise ValueError(f"IDX file '{path}' declares 0 dimensions.")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(
            f"Truncated IDX file '{path}': {len(raw)} bytes cannot hold "
            f"the {ndim} dimension sizes its header declares."
        )
    shape = tuple(
        int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4)
    )
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"Corrupt IDX file '{path}': shape {shape} needs {expected} "
            f"bytes of data, found {len(raw) - header}."
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def find_idx_file(directory, stem):
    """Path of `stem` or `stem.gz` in `directory`, or None if neither."""
    for name in (stem + ".gz", stem):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


def missing_idx_files(directory):
    """Names of the expected IDX files (any split) absent from `directory`."""
    return [
        f"{stem}[.gz]"
        for stems in IDX_FILES.values()
        for stem in stems
        if find_idx_file(directory, stem) is None
    ]


def load_idx_split(directory, split, num_classes):
    """Loads one split of an MNIST-layout IDX directory.

    Args:
        directory: str. Folder holding `train-images-idx3-ubyte[.gz]`,
            `train-labels-idx1-ubyte[.gz]`, `t10k-images-idx3-ubyte[.gz]`
            and `t10k-labels-idx1-ubyte[.gz]`.
        split: str. `"train"` or `"test"`.
        num_classes: int. Labels must lie in `[0, num_classes)`.

    Returns:
        `(images, labels)`: uint8 `(N, H, W, 1)` and int64 `(N,)`.

    Raises:
        FileNotFoundError: if a file of the split is missing.
        ValueError: naming the file, if it is corrupt or the two files
            disagree.
    """
    image_stem, label_stem = IDX_FILES[split]
    paths = []
    for stem in (image_stem, label_stem):
        path = find_idx_file(directory, stem)
        if path is None:
            raise FileNotFoundError(
                f"Missing IDX file '{stem}' (or '{stem}.gz') in '{directory}'."
            )
        paths.append(path)
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"Corrupt IDX image file '{paths[0]}': expected uint8 images "
            f"of shape (N, H, W). Received: dtype={images.dtype}, "
            f"shape={images.shape}"
        )
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"IDX label file '{paths[1]}' has shape {labels.shape}, but "
            f"'{paths[0]}' holds {images.shape[0]} images."
        )
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"Corrupt IDX label file '{paths[1]}': labels must lie in "
            f"[0, {num_classes}). Received range: "
            f"[{labels.min()}, {labels.max()}]"
        )
    return images[..., None], labels
