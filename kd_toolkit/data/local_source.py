"""Offline dataset files: where to look, how to read them, how to get them.

- Fashion-MNIST: IDX files; by default those of the Debian package
  `dataset-fashion-mnist`.
- MNIST: IDX files in a folder the user names.
- CIFAR-10/100: the "python version" archive or its extracted folder.

Lookup order for the location: the `data_dir` argument, else the
environment variable `KD_TOOLKIT_<NAME>_DIR` (for example
`KD_TOOLKIT_FASHION_MNIST_DIR`), else the default folder, if any.
"""

import os

from kd_toolkit.data import cifar_archive
from kd_toolkit.data import idx

# Installed by `apt-get install dataset-fashion-mnist` on Debian/Ubuntu.
DEFAULT_DIRS = {"fashion_mnist": "/usr/share/datasets/fashion-mnist"}

_CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"


def env_var(name):
    """Environment variable naming the local folder of dataset `name`."""
    return f"KD_TOOLKIT_{name.upper()}_DIR"


def candidate_path(name, data_dir=None):
    """The path to look in for `name`, or None if nothing says where."""
    if data_dir is not None:
        return os.fspath(data_dir)
    return os.environ.get(env_var(name)) or DEFAULT_DIRS.get(name)


def find(name, data_dir=None):
    """Locates the local files of dataset `name`.

    Args:
        name: str. A dataset name.
        data_dir: str or None. Overrides the environment and the default.

    Returns:
        The path to read from, or None when no local files are there.

    Raises:
        FileNotFoundError: when only some of the IDX files are there (an
            incomplete copy is an error, not a reason to look elsewhere).
    """
    path = candidate_path(name, data_dir)
    if path is None:
        return None
    if name in cifar_archive.LAYOUTS:
        return cifar_archive.find_cifar(path, name)
    if not os.path.isdir(path):
        return None
    missing = idx.missing_idx_files(path)
    if not missing:
        return path
    if len(missing) < 4:
        raise FileNotFoundError(
            f"Incomplete {name} IDX folder '{path}': missing {missing}. "
            + how_to_get(name)
        )
    return None


def load(location, name, split, num_classes):
    """Reads `(uint8 NHWC images, int64 labels)` from a `find` result."""
    if name in cifar_archive.LAYOUTS:
        return cifar_archive.load_cifar_split(location, name, split)
    return idx.load_idx_split(location, split, num_classes)


def how_to_get(name):
    """One-paragraph instructions for putting `name` on disk offline."""
    var = env_var(name)
    if name == "fashion_mnist":
        return (
            "Install the IDX files with `sudo apt-get install "
            f"dataset-fashion-mnist` (they go to {DEFAULT_DIRS[name]}), or "
            "put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
            "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz in a "
            f"folder and pass data_dir=<folder> or set {var}=<folder>."
        )
    if name == "mnist":
        return (
            "Put the MNIST IDX files train-images-idx3-ubyte.gz, "
            "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
            "t10k-labels-idx1-ubyte.gz in a folder and pass "
            f"data_dir=<folder> or set {var}=<folder>."
        )
    layout = cifar_archive.LAYOUTS[name]
    return (
        f"Download '{layout.archive}' (the \"python version\") from "
        f"{_CIFAR_URL} on a connected machine, copy it here, and pass "
        f"data_dir=<path to the archive, its extracted '{layout.folder}' "
        f"folder, or the folder holding either> or set {var} to that path."
    )
