import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import layers

from kd_toolkit import models
from kd_toolkit.export import estimate_arena_bytes
from kd_toolkit.export import micro_fit
from kd_toolkit.export.tflite_export import convert_to_tflite


def _allocates(path, arena_bytes):
    probe = (
        "import sys\n"
        "from tflite_micro.python.tflite_micro import runtime\n"
        "runtime.Interpreter.from_bytes(\n"
        "    open(sys.argv[1], 'rb').read(), arena_size=int(sys.argv[2]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(path), str(arena_bytes)],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


@pytest.fixture(scope="module")
def int8_student(tmp_path_factory):
    """A real int8 .tflite of a small zoo student."""
    model = models.get(
        "resnet8", input_shape=(28, 28, 1), num_classes=10, base_width=4
    )
    x = np.random.default_rng(0).random((64, 28, 28, 1)).astype("float32")
    path = tmp_path_factory.mktemp("micro") / "student_int8.tflite"
    path.write_bytes(convert_to_tflite(model, "int8", representative_data=x))
    return path, x


def test_arena_is_measured_in_tflm_and_parity_checked(int8_student):
    path, x = int8_student
    fit = micro_fit(path, x[:16], artifact="tflite_int8")
    assert fit.measured and fit.artifact == "tflite_int8"
    assert fit.flash_bytes == path.stat().st_size
    # Minimal: TFLM allocates the model in it and not in 32 bytes less
    # (each attempt in a child process: TFLM may crash on a small arena).
    assert _allocates(path, fit.arena_bytes)
    assert not _allocates(path, fit.arena_bytes - 32)
    # The live activations need about this much; TFLM adds its bookkeeping
    # (measured: 14.0 KiB against a 9.2 KiB estimate).
    estimate = estimate_arena_bytes(path.read_bytes())
    assert 0.5 * estimate < fit.arena_bytes < 4 * estimate
    assert fit.parity_samples == 16
    assert fit.max_diff_steps <= 3 and fit.top1_agreement >= 0.9


def test_estimate_is_the_documented_fallback(int8_student):
    path, _ = int8_student
    fit = micro_fit(path, runtime="estimate")
    assert not fit.measured and fit.parity_samples == 0
    assert fit.arena_bytes == estimate_arena_bytes(path.read_bytes()) > 0
    assert fit.method.startswith("estimate:")


def test_estimate_by_hand(tmp_path):
    # int8 activations: input 8 B and the first Dense's 4 B are live
    # together while it runs; then 4 B and the output's 2 B. Peak: 12 B.
    inputs = keras.Input((8,))
    hidden = layers.Dense(4)(inputs)
    model = keras.Model(inputs, layers.Dense(2)(hidden))
    x = np.random.default_rng(0).random((32, 8)).astype("float32")
    content = convert_to_tflite(model, "int8", representative_data=x)
    assert estimate_arena_bytes(content) == 12


def test_unknown_runtime_lists_the_choices(int8_student):
    with pytest.raises(
        ValueError,
        match=r"'auto', 'tflm', 'estimate'.*"
        r"Received: runtime='mcu'",
    ):
        micro_fit(int8_student[0], runtime="mcu")
