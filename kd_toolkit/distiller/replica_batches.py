"""What a Distiller does differently under a multi-worker strategy, where
Keras 3.15 (TF 2.21) reduces per-replica values in ways that fail."""

import tensorflow as tf
from keras import ops
from keras import tree

from kd_toolkit.utils import compat


def build_batch(model, iterator, data_batch):
    """The batch `model` is symbolically built from before training.

    Keras averages the first batch over the replicas (only its shapes
    matter) with `strategy.reduce`, which fails under
    `MultiWorkerMirroredStrategy` ("Attempt to convert a value
    (PerReplica...) to a Tensor"). One replica's batch has the same
    shapes: under a strategy this returns it, else `data_batch`.
    """
    if iterator is None or compat.distribute_strategy_or_none(model) is None:
        return data_batch
    strategy = model.distribute_strategy
    for _, _, batches in iterator:
        return tree.map_structure(
            lambda v: strategy.experimental_local_results(v)[0],
            next(batches),
        )
    return data_batch


def reducible_logs(logs):
    """A step's logs as Keras can reduce them across workers.

    Keras reduces them with `strategy.reduce("MEAN", value, axis=0)`, which
    fails on scalars under `MultiWorkerMirroredStrategy`: there each gets a
    length-1 axis. Unchanged under any other strategy.
    """
    if isinstance(
        tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy
    ):
        return {k: ops.reshape(v, (1,)) for k, v in logs.items()}
    return logs
