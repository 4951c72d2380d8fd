"""The Distiller under MirroredStrategy matches the single-device run.

Runs in a subprocess: logical CPU devices must be configured before
TensorFlow initialises, which the rest of the suite has already done.
"""

import json
import subprocess
import sys

SCRIPT = r"""
import json
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import numpy as np
from keras import layers
import kd_toolkit as kd

def net(name, filters):
    i = keras.Input((8, 8, 1))
    x = layers.Conv2D(filters, 3, padding="same")(i)
    x = layers.ReLU(name="feat")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(i, layers.Dense(3, name="logits")(x), name=name)

rng = np.random.default_rng(0)
x = rng.random((64, 8, 8, 1), dtype="float32")
y = rng.integers(0, 3, 64)
out = {}
for name, strategy in (
        ("single", tf.distribute.get_strategy()),
        ("mirrored", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        d = kd.Distiller(net("t", 8), net("s", 4), losses=[
            kd.losses.KD(2.0), kd.losses.Hint("feat", "feat")])
        d.compile(keras.optimizers.SGD(0.1))
    h = d.fit(x, y, batch_size=32, epochs=2, verbose=0, shuffle=False)
    out[name] = {k: v[-1] for k, v in h.history.items()}
print(json.dumps(out))
"""


def test_mirrored_strategy_matches_single_device():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(out["single"]) == {
        "loss",
        "student_loss",
        "kd_loss",
        "hint_loss",
    }
    for key, value in out["single"].items():
        tolerance = 1e-4 * max(1.0, abs(value))
        assert abs(out["mirrored"][key] - value) <= tolerance, key
