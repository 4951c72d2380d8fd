"""Small trained models shipped with kd_toolkit, each with its provenance.

Each model is a `.keras` file beside a `.json` record of how it was made:
the project command that trained it, the date, the machine, its parameter
count and its measured test accuracy. `tests/pretrained/` re-measures that
accuracy on the real test set, so a record cannot drift from its file.
The demo distils from the Fashion-MNIST teacher instead of training one,
and the real-data tests start from these models, so that they do not depend
on a few epochs of training that differ between machines.
"""

import json
import pathlib

import keras

_DIR = pathlib.Path(__file__).resolve().parent


def names():
    """Names of the shipped models, sorted."""
    return sorted(p.stem for p in _DIR.glob("*.json"))


def path(name):
    """Path of a shipped model's `.keras` file.

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    if name not in names():
        raise ValueError(
            f"Unknown pretrained model. Expected one of {names()}. "
            f"Received: name={name!r}"
        )
    return _DIR / f"{name}.keras"


def info(name):
    """The provenance record of a shipped model, as a dict.

    Keys: `command`, `date`, `machine`, `dataset`, `arch`, `params`,
    `test_accuracy` (a fraction, on the full test split) and `notes`.
    """
    return json.loads(path(name).with_suffix(".json").read_text("utf-8"))


def load(name):
    """Loads a shipped model.

    Example:

    ```python
    teacher = kd_toolkit.pretrained.load("fashion_mnist_resnet20")
    kd_toolkit.pretrained.info("fashion_mnist_resnet20")["test_accuracy"]
    ```
    """
    return keras.models.load_model(path(name))
