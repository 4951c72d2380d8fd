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

from kd_toolkit.utils.registry import Registry

_DIR = pathlib.Path(__file__).resolve().parent
_SHIPPED = Registry("pretrained model", "name")
for _record in sorted(_DIR.glob("*.json")):
    _SHIPPED.register(_record.stem, _record.with_suffix(".keras"))


def names():
    """Names of the shipped models, sorted."""
    return _SHIPPED.names()


def path(name):
    """Path of a shipped model's `.keras` file.

    Raises:
        ValueError: for an unknown name, listing close matches and the
            valid ones.
    """
    return _SHIPPED.get(name)


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
