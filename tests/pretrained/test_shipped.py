"""Tests of the shipped models: each record matches its file."""

import numpy as np
import pytest

from kd_toolkit import data
from kd_toolkit import pretrained


def test_names_and_records():
    assert {"fashion_mnist_resnet20", "fashion_mnist_resnet8_kd"} <= set(
        pretrained.names()
    )
    for name in pretrained.names():
        record = pretrained.info(name)
        for key in (
            "command",
            "date",
            "machine",
            "dataset",
            "arch",
            "params",
            "test_accuracy",
        ):
            assert key in record, (name, key)
        assert record["command"].startswith("python -m kd_toolkit.train")
        assert pretrained.path(name).is_file()


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(
        ValueError,
        match=r"one of \['fashion_mnist_.*"
        r"Received: name='resnet'",
    ):
        pretrained.path("resnet")


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["fashion_mnist_resnet20", "fashion_mnist_resnet8_kd"]
)
def test_recorded_accuracy_is_measured_again(name):
    record = pretrained.info(name)
    model = pretrained.load(name)
    assert model.count_params() == record["params"]
    x, y = data.load_numpy(record["dataset"], "test")
    predictions = np.argmax(model.predict(x, batch_size=500, verbose=0), -1)
    accuracy = float(np.mean(predictions == y))
    # The same weights on another CPU may round a handful of the 10,000
    # predictions differently: 0.1 point is 10 images.
    assert accuracy == pytest.approx(record["test_accuracy"], abs=1e-3)
