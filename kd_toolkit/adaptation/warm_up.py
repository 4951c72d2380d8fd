"""Warm-up: fit each adapter to the output of the blocks it replaces."""

import dataclasses

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kd_toolkit.adaptation.graph import LayerGraph

METRIC = "adapter_fidelity_mse"


@dataclasses.dataclass(frozen=True)
class WarmUpReport:
    """What the warm-up did, printable.

    Attributes:
        steps: number of optimizer steps taken.
        initial_mse: mean `adapter_fidelity_mse` over the held-out batches
            before the warm-up.
        final_mse: the same after the warm-up.
        history: tuple of the mean training `adapter_fidelity_mse` of each
            chunk of `log_every` steps.
        per_adapter: dict, adapter name -> final MSE on the held-out
            batches.
    """

    steps: int
    initial_mse: float
    final_mse: float
    history: tuple
    per_adapter: dict

    def __str__(self):
        lines = [
            f"Adapter warm-up: {self.steps} steps, {METRIC} "
            f"{self.initial_mse:.4g} -> {self.final_mse:.4g}",
            "  per chunk: " + ", ".join(f"{v:.4g}" for v in self.history),
        ]
        lines += [f"  {k}: {v:.4g}" for k, v in self.per_adapter.items()]
        return "\n".join(lines)


class _AdapterFitter(keras.Model):
    """Trains adapters on `MSE(A(h_start), h_end)` of the original teacher."""

    def __init__(self, view, adapters, **kwargs):
        super().__init__(**kwargs)
        self.view = view
        self.adapters = adapters
        self.tracker = keras.metrics.Mean(name=METRIC)
        self.adapter_trackers = [
            keras.metrics.Mean(name=f"{a.name}_mse") for a in adapters
        ]

    @property
    def metrics(self):
        return [self.tracker] + self.adapter_trackers

    def call(self, x, training=None):
        maps = self.view(x, training=False)
        return [
            a(maps[2 * i], training=training)
            for i, a in enumerate(self.adapters)
        ]

    def _fidelity(self, x, training):
        maps = [ops.stop_gradient(m) for m in self.view(x, training=False)]
        per_adapter = []
        for i, adapter in enumerate(self.adapters):
            pred = ops.cast(adapter(maps[2 * i], training=training), "float32")
            err = ops.square(pred - ops.cast(maps[2 * i + 1], "float32"))
            per_sample = ops.mean(
                ops.reshape(err, (ops.shape(err)[0], -1)), axis=-1
            )
            per_adapter.append(tf.nn.compute_average_loss(per_sample))
        return per_adapter

    def _report(self, per_adapter):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        total = ops.mean(ops.stack(per_adapter)) * replicas
        self.tracker.update_state(total)
        for tracker, value in zip(self.adapter_trackers, per_adapter):
            tracker.update_state(value * replicas)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        variables = [v for a in self.adapters for v in a.trainable_weights]
        with tf.GradientTape() as tape:
            per_adapter = self._fidelity(x, training=True)
            total = ops.mean(ops.stack(per_adapter))
        grads = tape.gradient(total, variables)
        self.optimizer.apply(grads, variables)
        return self._report(per_adapter)

    def test_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._report(self._fidelity(x, training=False))


def warm_up(
    adapted,
    data,
    steps=300,
    learning_rate=1e-2,
    log_every=50,
    eval_batches=4,
    batch_size=128,
    verbose=0,
):
    """Fits each adapter to reproduce the teacher blocks it replaced.

    Step 3 of our formalization of Wu et al., "Activation Map Adaptation
    for Effective Knowledge Distillation", arXiv 2010.13500: before the
    joint distillation, each adapter `A` learns

    ```
    adapter_fidelity_mse = mean over adapters of
                           mean_k (A(h_start)_k − h_end_k)²
    ```

    where `h_start`, `h_end` are the ORIGINAL teacher's activations at the
    replacement's cuts (inference mode). Each adapter is fitted on its own
    original input (our choice), so adapters do not wait for each other.
    Only adapter weights change; their BatchNormalization statistics follow
    the training batches. Adam, `learning_rate` (our defaults).

    Args:
        adapted: the `AdaptedTeacher` returned by `adapt_teacher`.
        data: a `tf.data.Dataset` of batches (`x` or `(x, y, ...)`; labels
            are ignored), or a numpy array of images. It is repeated as
            needed.
        steps: int > 0. Optimizer steps. Defaults to `300`.
        learning_rate: float > 0. Adam learning rate. Defaults to `1e-2`
            (our choice: the adapters are small and batch-normalized).
        log_every: int > 0 dividing `steps`: the history holds the mean MSE
            of each chunk of this many steps. Defaults to `50`.
        eval_batches: int > 0. Batches taken from the start of `data` and
            held fixed to measure the MSE before and after. Defaults to `4`.
        batch_size: int. Batch size when `data` is a numpy array. Defaults
            to `128`.
        verbose: Keras `fit` verbosity. Defaults to `0`.

    Returns:
        A printable `WarmUpReport` (`initial_mse`, `final_mse`, `history`,
        `per_adapter`).

    Raises:
        TypeError: if `adapted` is not an `AdaptedTeacher` or `data` is not
            a dataset or an array.
        ValueError: on a non-positive `steps`, `learning_rate`, `log_every`
            or `eval_batches`, or `steps` not a multiple of `log_every`.

    Example:

    ```python
    report = kd_toolkit.adaptation.warm_up(adapted, train_ds, steps=300)
    print(report)  # adapter_fidelity_mse 0.41 -> 0.05
    ```
    """
    from kd_toolkit.adaptation.surgery import AdaptedTeacher

    if not isinstance(adapted, AdaptedTeacher):
        raise TypeError(
            "`adapted` must be the AdaptedTeacher returned by adapt_teacher. "
            f"Received: adapted of type {type(adapted).__name__}"
        )
    for arg, value in (
        ("steps", steps),
        ("log_every", log_every),
        ("eval_batches", eval_batches),
        ("batch_size", batch_size),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"`{arg}` must be an int >= 1. Received: {arg}={value!r}"
            )
    if steps % log_every:
        raise ValueError(
            "`steps` must be a multiple of `log_every`. "
            f"Received: steps={steps}, log_every={log_every}"
        )
    if (
        isinstance(learning_rate, bool)
        or not isinstance(learning_rate, (int, float))
        or not learning_rate > 0
    ):
        raise ValueError(
            "`learning_rate` must be a number > 0. "
            f"Received: learning_rate={learning_rate!r}"
        )
    dataset = _as_dataset(data, batch_size)
    held_out = dataset.take(eval_batches).cache()
    fitter = _fitter(adapted)
    fitter.compile(optimizer=keras.optimizers.Adam(float(learning_rate)))
    initial = fitter.evaluate(held_out, verbose=0, return_dict=True)
    history = fitter.fit(
        dataset.repeat(),
        epochs=steps // log_every,
        steps_per_epoch=log_every,
        shuffle=False,
        verbose=verbose,
    )
    final = fitter.evaluate(held_out, verbose=0, return_dict=True)
    return WarmUpReport(
        steps=steps,
        initial_mse=float(initial[METRIC]),
        final_mse=float(final[METRIC]),
        history=tuple(float(v) for v in history.history[METRIC]),
        per_adapter={
            a.name: float(final[f"{a.name}_mse"]) for a in fitter.adapters
        },
    )


def _fitter(adapted):
    graph = LayerGraph(adapted.original)
    taps = []
    for rep in adapted.replacements:
        taps += [
            graph.layer_output(rep.start, "start"),
            graph.layer_output(rep.end, "end"),
        ]
    inputs = adapted.original.inputs
    view = keras.Model(
        inputs[0] if len(inputs) == 1 else inputs,
        taps,
        name=f"{adapted.original.name}_cuts",
    )
    adapters = [
        adapted.model.get_layer(r.adapter_name) for r in adapted.replacements
    ]
    return _AdapterFitter(view, adapters, name="adapter_warm_up")


def _as_dataset(data, batch_size):
    if isinstance(data, tf.data.Dataset):
        return data
    if isinstance(data, np.ndarray):
        return (
            tf.data.Dataset.from_tensor_slices(data)
            .shuffle(min(len(data), 10_000), seed=0)
            .batch(batch_size)
        )
    raise TypeError(
        "`data` must be a tf.data.Dataset of batches or a numpy array of "
        f"images. Received: data of type {type(data).__name__}"
    )
