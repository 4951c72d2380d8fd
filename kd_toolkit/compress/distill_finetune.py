"""Fine-tune a tfmot-wrapped `tf_keras` student while distilling a teacher."""

import dataclasses

import numpy as np
import tensorflow as tf
from absl import logging

from kd_toolkit.compress import tf_keras_bridge
from kd_toolkit.compress.fine_tuning import FineTuning
from kd_toolkit.compress.fine_tuning import check_fine_tuning
from kd_toolkit.distiller.output_kind import LOGITS
from kd_toolkit.distiller.output_kind import PROBABILITIES
from kd_toolkit.distiller.output_kind import detect_output_kind
from kd_toolkit.distiller.output_kind import one_hot_labels
from kd_toolkit.distiller.output_kind import to_logits
from kd_toolkit.losses.kd import kd_divergence

_OUTPUT_KINDS = (LOGITS, PROBABILITIES)


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
    fine_tuning=None,
    *,
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

    (the weights, `τ` and the schedule from `fine_tuning`).

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
        fine_tuning: `FineTuning` or None: epochs, steps, learning rate
            and its schedule, optimizer, temperature and the two weights.
            None means `FineTuning()` (1 epoch, 1e-4, cosine, Adam, τ 4).
        teacher_outputs: str. `"auto"`, `"logits"` or `"probabilities"`.
        student_outputs: str. `"logits"` (default) or `"probabilities"`.
        callbacks: sequence of `tf_keras.callbacks.Callback`.

    Returns:
        `FinetuneHistory`.

    Raises:
        ValueError: for a bad argument value, or a cosine schedule over a
            dataset of unknown length without `steps_per_epoch`.
        TypeError: if `fine_tuning` is not a `FineTuning`.

    Example:

    ```python
    legacy = to_tf_keras(student)
    qat = tfmot.quantization.keras.quantize_model(legacy)
    distill_finetune(qat, teacher, train_ds, FineTuning(epochs=1))
    ```

    Size: the loop with its tf.function step and the tf_keras callback hooks,
    which must share the optimizer and the callbacks list.
    """
    tuning = check_fine_tuning(fine_tuning, FineTuning())
    epochs, steps_per_epoch = tuning.epochs, tuning.steps_per_epoch
    temperature = tuning.temperature
    ce_weight, kd_weight = tuning.ce_weight, tuning.kd_weight
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
    decay_steps = None
    if tuning.lr_schedule == "cosine":
        steps = steps_per_epoch or int(dataset.cardinality())
        if steps < 0:  # tf.data.UNKNOWN_CARDINALITY or INFINITE_CARDINALITY
            raise ValueError(
                "A cosine learning-rate schedule needs the number of steps: "
                "the dataset's length is unknown, pass `steps_per_epoch` or "
                "lr_schedule='constant'. Received: steps_per_epoch=None"
            )
        decay_steps = max(1, epochs * steps)
    opt = tf_keras_bridge.tf_keras_optimizer(
        tuning.optimizer, tuning.learning_rate, decay_steps
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
