"""How the Distiller reduces its per-sample terms over a (global) batch,
and updates the compiled metrics, with unlabeled examples weighted 0."""

import tensorflow as tf
from keras import ops

from kd_toolkit.utils import compat


def batch_mean(per_sample, sample_weight):
    """Weighted mean over the global batch, as Keras losses reduce."""
    per_sample = ops.cast(per_sample, "float32")
    if sample_weight is not None:
        sample_weight = ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
    if per_sample.shape.rank == 0:
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return per_sample / replicas
    return tf.nn.compute_average_loss(per_sample, sample_weight=sample_weight)


def update_compiled_metrics(model, y, y_pred, labeled, sample_weight):
    """`compute_metrics` that skips unlabeled examples.

    Keras updates `compile(metrics=...)` without sample weights and
    `weighted_metrics` with them; here both also weigh each example by
    `labeled` (0 for an unlabeled one), so accuracy counts labeled
    examples only. Keras keeps the compiled metrics private (read through
    `kd_toolkit.utils.compat`).
    """
    compiled = compat.compiled_metrics(model)
    if compiled is None:
        return
    if not compiled.built:
        compiled.build(y, y_pred)
    weighted = labeled
    if sample_weight is not None:
        weighted = labeled * ops.reshape(
            ops.cast(sample_weight, "float32"), (-1,)
        )
    metrics, weighted_metrics = compat.flat_metric_lists(compiled)
    for metric in metrics:
        if metric:
            metric.update_state(y, y_pred, sample_weight=labeled)
    for metric in weighted_metrics:
        if metric:
            metric.update_state(y, y_pred, sample_weight=weighted)


def labeled_mean(per_sample, labeled, sample_weight):
    """Mean of a hard-label term over the labeled examples of the batch.

    `sum(value * weight * labeled) / sum(labeled)`: with every example
    labeled it equals `batch_mean` (Keras's sum over the batch size), and an
    unlabeled example neither adds to it nor dilutes it. A batch without
    labels gives 0. Each replica averages its own examples; their mean is
    the global one for evenly split batches.
    """
    per_sample = ops.cast(per_sample, "float32")
    if per_sample.shape.rank == 0:
        return batch_mean(per_sample, sample_weight)
    weight = labeled
    if sample_weight is not None:
        weight = weight * ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return (
        tf.math.divide_no_nan(ops.sum(per_sample * weight), ops.sum(labeled))
        / replicas
    )


def known_labels(y):
    """Labels with the class id of an unlabeled example (-1) replaced by 0,
    for functions that cannot take it; those examples are weighted 0."""
    y = tf.convert_to_tensor(y)
    if y.dtype.is_integer:
        return tf.where(y < 0, tf.zeros_like(y), y)
    return y


def step_logs(model, trackers, batch, losses):
    """Updates a Distiller's trackers and compiled metrics; returns the
    step's logs.

    Args:
        model: the Distiller.
        trackers: `(total tracker, [term trackers])`, `keras.metrics.Mean`s
            named after the total (`"loss"`) and each term.
        batch: `(y or None, sample_weight or None, student output)`.
        losses: the step's `StepLosses`. Label-based metrics count its
            labeled examples only.
    """
    total_tracker, term_trackers = trackers
    y, sample_weight, y_pred = batch
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    total_tracker.update_state(losses.total * replicas)
    for tracker in term_trackers:
        tracker.update_state(losses.terms[tracker.name] * replicas)
    if y is None:
        # Class 0 everywhere at weight 0: the metrics see no example (and
        # are built, as Keras builds them on their first batch).
        y = ops.zeros_like(losses.labeled, dtype="int32")
    update_compiled_metrics(
        model, known_labels(y), y_pred, losses.labeled, sample_weight
    )
    return model.get_metrics_result()
