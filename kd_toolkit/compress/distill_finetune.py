"""Fine-tune a tfmot-wrapped `tf_keras` student while distilling a teacher."""

import dataclasses

import numpy as np
import tensorflow as tf
from absl import logging

from kd_toolkit.compress import tf_keras_bridge
from kd_toolkit.distiller.output_kind import LOGITS
from kd_toolkit.distiller.output_kind import PROBABILITIES
from kd_toolkit.distiller.output_kind import detect_output_kind
from kd_toolkit.distiller.output_kind import one_hot_labels
from kd_toolkit.distiller.output_kind import to_logits
from kd_toolkit.losses.kd import kd_divergence
from kd_toolkit.utils import validation

_OUTPUT_KINDS = (LOGITS, PROBABILITIES)
_LR_SCHEDULES = ("cosine", "constant")


@dataclasses.dataclass(frozen=True)
class FinetuneHistory:
    """Per-epoch means of the fine-tuning loop.

    Args:
        loss: list of float. Total loss.
        ce: list of float. Hard-label cross-entropy.
        kd: list of float. Distillation term (0 without a teacher).
        accuracy: list of float in [0, 1]. Training top-1 accuracy.
        steps: int. Training steps run in all.
    """

    loss: list
    ce: list
    kd: list
    accuracy: list
    steps: int

    def to_dict(self):
        """Returns a JSON-ready dict."""
        return dataclasses.asdict(self)


def distill_finetune(
    model,
    teacher,
    dataset,
    *,
    epochs=1,
    steps_per_epoch=None,
    learning_rate=1e-4,
    lr_schedule="cosine",
    optimizer="adam",
    temperature=4.0,
    ce_weight=1.0,
    kd_weight=1.0,
    teacher_outputs="auto",
    student_outputs=LOGITS,
    callbacks=(),
):
    """Trains a `tf_keras` student on CE + KD from a Keras 3 teacher.

    Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network",
    2015, https://arxiv.org/abs/1503.02531. Per batch, with labels `y`,
    student logits `s` and teacher logits `t` (teacher in inference mode):

    ```
    loss = ce_weight · CE(y, s)
         + kd_weight · τ² · KL(softmax(t/τ) ‖ softmax(s/τ))
         + Σ model.losses
    ```

    The loop is a plain `tf.function` step; tf_keras callbacks such as
    `tfmot.sparsity.keras.UpdatePruningStep` get the usual
    `on_train_begin`/`on_train_batch_begin`/`on_epoch_end` calls.

    Args:
        model: `tf_keras.Model`, e.g. a pruning- or quantization-wrapped
            student. Trained in place.
        teacher: Keras 3 (or `tf_keras`) model producing logits or
            probabilities, or None for cross-entropy only.
        dataset: `tf.data.Dataset` of `(images, labels)` batches; labels
            are int class ids `(B,)` or one-hot `(B, C)`.
        epochs: int >= 1. Defaults to `1`.
        steps_per_epoch: int >= 1 or None (the whole dataset per epoch).
        learning_rate: float > 0. Initial rate. Defaults to `1e-4`.
        lr_schedule: str. `"cosine"` (default: decay to 0 over all the
            steps; the dataset's length must then be known, or
            `steps_per_epoch` given) or `"constant"`.
        optimizer: str. `"adam"` or `"sgd"`. Defaults to `"adam"`.
        temperature: float > 0. KD temperature `τ`. Defaults to `4.0`.
        ce_weight: float >= 0. Defaults to `1.0`.
        kd_weight: float >= 0. Defaults to `1.0`.
        teacher_outputs: str. `"auto"`, `"logits"` or `"probabilities"`.
        student_outputs: str. `"logits"` (default) or `"probabilities"`.
        callbacks: sequence of `tf_keras.callbacks.Callback`.

    Returns:
        `FinetuneHistory`.

    Raises:
        ValueError: for a bad argument value.

    Example:

    ```python
    legacy = to_tf_keras(student)
    qat = tfmot.quantization.keras.quantize_model(legacy)
    distill_finetune(qat, teacher, train_ds, epochs=1)
    ```
    """
    epochs = validation.check_int("epochs", epochs, 1)
    steps_per_epoch = validation.check_int(
        "steps_per_epoch", steps_per_epoch, 1, allow_none=True
    )
    temperature = validation.check_positive("temperature", temperature)
    ce_weight = validation.check_non_negative("ce_weight", ce_weight)
    kd_weight = validation.check_non_negative("kd_weight", kd_weight)
    if student_outputs not in _OUTPUT_KINDS:
        raise ValueError(
            f"`student_outputs` must be one of {list(_OUTPUT_KINDS)}. "
            f"Received: student_outputs={student_outputs!r}"
        )
    t_kind = (
        None
        if teacher is None
        else detect_output_kind(teacher, teacher_outputs, "teacher")
    )
    if lr_schedule not in _LR_SCHEDULES:
        raise ValueError(
            f"`lr_schedule` must be one of {list(_LR_SCHEDULES)}. "
            f"Received: lr_schedule={lr_schedule!r}"
        )
    decay_steps = None
    if lr_schedule == "cosine":
        steps = steps_per_epoch or int(dataset.cardinality())
        if steps < 0:  # tf.data.UNKNOWN_CARDINALITY or INFINITE_CARDINALITY
            raise ValueError(
                "A cosine learning-rate schedule needs the number of steps: "
                "the dataset's length is unknown, pass `steps_per_epoch` or "
                "lr_schedule='constant'. Received: steps_per_epoch=None"
            )
        decay_steps = max(1, epochs * steps)
    opt = tf_keras_bridge.tf_keras_optimizer(
        optimizer, learning_rate, decay_steps
    )
    variables = model.trainable_variables

    @tf.function(reduce_retracing=True)
    def train_step(x, y):
        labels = one_hot_labels(y, model.outputs[0].shape[-1])
        with tf.GradientTape() as tape:
            s_logits = to_logits(model(x, training=True), student_outputs)
            ce = tf.reduce_mean(
                tf.nn.softmax_cross_entropy_with_logits(labels, s_logits)
            )
            kd = tf.constant(0.0)
            if teacher is not None:
                t_logits = tf.stop_gradient(
                    to_logits(teacher(x, training=False), t_kind)
                )
                kd = tf.reduce_mean(
                    kd_divergence(t_logits, s_logits, temperature)
                )
            loss = ce_weight * ce + kd_weight * kd
            if model.losses:
                loss += tf.add_n(model.losses)
        grads = tape.gradient(loss, variables)
        opt.apply_gradients(zip(grads, variables))
        hits = tf.reduce_mean(
            tf.cast(
                tf.equal(tf.argmax(s_logits, -1), tf.argmax(labels, -1)),
                tf.float32,
            )
        )
        return tf.stack([loss, ce, kd, hits])

    for callback in callbacks:
        callback.set_model(model)
        callback.on_train_begin()
    history, step = FinetuneHistory([], [], [], [], 0), 0
    for epoch in range(epochs):
        for callback in callbacks:
            callback.on_epoch_begin(epoch)
        batches = (
            dataset
            if steps_per_epoch is None
            else dataset.take(steps_per_epoch)
        )
        sums, count = np.zeros(4), 0
        for batch in batches:
            x, y = batch[0], batch[1]
            for callback in callbacks:
                callback.on_train_batch_begin(count)
            sums += train_step(x, y).numpy()
            for callback in callbacks:
                callback.on_train_batch_end(count)
            count += 1
        if count == 0:
            raise ValueError(
                "`dataset` yielded no batch. Received: an empty dataset"
            )
        step += count
        loss, ce, kd, acc = (sums / count).tolist()
        for values, value in zip(
            (history.loss, history.ce, history.kd, history.accuracy),
            (loss, ce, kd, acc),
        ):
            values.append(value)
        logging.info(
            "fine-tune epoch %d/%d: loss %.4f ce %.4f kd %.4f acc %.4f",
            epoch + 1,
            epochs,
            loss,
            ce,
            kd,
            acc,
        )
        for callback in callbacks:
            callback.on_epoch_end(epoch)
    for callback in callbacks:
        callback.on_train_end()
    return dataclasses.replace(history, steps=step)
