"""Tests for kd_toolkit.models.onednn_issue."""

import os
import pathlib
import subprocess
import sys
import warnings

import pytest

from kd_toolkit.models import onednn_issue
from kd_toolkit.models import resnet


def _quiet(**kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return resnet("resnet8", num_classes=10, **kwargs)


@pytest.mark.parametrize(
    "size,base_width,expected",
    [
        (64, 8, ["stage2_block1_shortcut_conv"]),
        (56, 4, ["stage2_block1_shortcut_conv"]),
        (54, 8, []),  # below 56 px
        (28, 8, []),
        (64, 10, []),  # more than 8 channels
        (64, 16, []),
        (None, 8, []),  # unknown sides do not count
    ],
)
def test_the_crashing_shortcut_is_found(size, base_width, expected):
    model = _quiet(input_shape=(size, size, 3), base_width=base_width)
    assert onednn_issue.crashing_convs(model) == expected


def test_the_builder_warns_only_with_onednn_on(monkeypatch):
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")
    with pytest.warns(UserWarning, match="stage2_block1_shortcut_conv"):
        resnet("resnet8", input_shape=(64, 64, 3), base_width=8)
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resnet("resnet8", input_shape=(64, 64, 3), base_width=8)


def test_the_documented_way_out_trains(tmp_path):
    # TensorFlow's own kernels (oneDNN off, before TensorFlow loads) train
    # the model that crashes with oneDNN on: a fresh process, two steps.
    script = (
        "import os; os.environ['TF_ENABLE_ONEDNN_OPTS'] = '0'\n"
        "import numpy as np, keras, warnings\n"
        "warnings.simplefilter('error')\n"
        "from kd_toolkit.models import resnet\n"
        "m = resnet('resnet8', input_shape=(64, 64, 3), base_width=8)\n"
        "m.compile('adam', keras.losses.SparseCategoricalCrossentropy("
        "from_logits=True))\n"
        "x = np.random.rand(8, 64, 64, 3).astype('float32')\n"
        "m.fit(x, np.arange(8) % 10, batch_size=4, epochs=1, verbose=0)\n"
        "print('TRAINED')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(_root())},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "TRAINED" in done.stdout


def _root():
    return pathlib.Path(__file__).resolve().parents[2]
