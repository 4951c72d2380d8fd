"""The Distiller under MultiWorkerMirroredStrategy: two worker processes on
127.0.0.1 train together and end where a single process ends.

Plain Keras 3 `fit` fails under this strategy (Keras 3.15, TF 2.21: the
first-batch build and the per-step log reduction call `strategy.reduce` in
ways it rejects); the Distiller works around both, and this test fails the
day either work-around stops working.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

WORKER = r"""
import json, os
import keras
import numpy as np
import tensorflow as tf
from keras import layers
import kd_toolkit as kd

strategy = (tf.distribute.MultiWorkerMirroredStrategy()
            if "TF_CONFIG" in os.environ else tf.distribute.get_strategy())

def net(name, filters):
    i = keras.Input((8, 8, 1))
    x = layers.Conv2D(filters, 3, padding="same", name="conv")(i)
    x = layers.ReLU(name="feat")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(i, layers.Dense(3, name="logits")(x), name=name)

rng = np.random.default_rng(0)
x = rng.random((64, 8, 8, 1), dtype="float32")
y = rng.integers(0, 3, 64)
# A global batch of 32: 16 per worker, sharded by example.
options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = (
    tf.data.experimental.AutoShardPolicy.DATA)
data = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).with_options(
    options)
keras.utils.set_random_seed(0)
with strategy.scope():
    distiller = kd.Distiller(net("t", 8), net("s", 4), losses=[
        kd.losses.KD(2.0), kd.losses.AttentionTransfer([("feat", "feat")])])
    distiller.compile(keras.optimizers.SGD(0.1))
history = distiller.fit(data, epochs=2, verbose=0)
print("RESULT " + json.dumps({
    "logs": {k: float(np.ravel(v[-1])[0]) for k, v in history.history.items()},
    "weights": [w.tolist() for w in distiller.student.get_weights()]}))
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _result(stdout, stderr):
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


@pytest.mark.slow
def test_two_workers_match_a_single_process():
    cluster = [f"127.0.0.1:{_free_port()}" for _ in range(2)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(
                os.environ,
                TF_CONFIG=json.dumps(
                    {
                        "cluster": {"worker": cluster},
                        "task": {"type": "worker", "index": index},
                    }
                ),
            ),
        )
        for index in range(2)
    ]
    single = subprocess.run(
        [sys.executable, "-c", WORKER],
        capture_output=True,
        text=True,
        timeout=300,
    )
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs[0][1][-3000:]
    want = _result(single.stdout, single.stderr)
    assert set(want["logs"]) == {"loss", "student_loss", "kd_loss", "at_loss"}
    for stdout, stderr in outputs:
        got = _result(stdout, stderr)
        # Same global batches, gradients summed across the workers:
        # measured within 7e-8 of the single process. (A loss with
        # batch-norm in its connector, like `Hint`, differs by ~1e-4:
        # each worker normalises with its own half-batch statistics.)
        for w, g in zip(want["weights"], got["weights"]):
            np.testing.assert_allclose(g, w, rtol=0, atol=1e-5)
        for key, value in want["logs"].items():
            assert abs(got["logs"][key] - value) <= 1e-4 * max(1, abs(value))
