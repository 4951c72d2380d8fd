"""Several teachers as one: the log of their weighted mean prediction."""

import keras
from keras import ops

from kd_toolkit.distiller.output_kind import PROBABILITIES
from kd_toolkit.distiller.output_kind import detect_output_kind
from kd_toolkit.utils.validation import check_non_negative


@keras.saving.register_keras_serializable(package="kd_toolkit")
class WeightedLogMeanProbabilities(keras.layers.Layer):
    """`log(Σ_k w_k · p_k)` of per-teacher probabilities `p_k`.

    Args:
        weights: list of float >= 0, one per input, summing to > 0 (they are
            normalised to sum to 1).
        **kwargs: `keras.layers.Layer` arguments.
    """

    def __init__(self, weights, **kwargs):
        super().__init__(**kwargs)
        weights = [check_non_negative("teacher_weights", w) for w in weights]
        total = sum(weights)
        if total <= 0:
            raise ValueError(
                "`teacher_weights` must not all be 0. "
                f"Received: teacher_weights={weights}"
            )
        self.teacher_weights = [w / total for w in weights]

    def call(self, probabilities):
        mean = sum(
            w * ops.cast(p, "float32")
            for w, p in zip(self.teacher_weights, probabilities)
        )
        return ops.log(ops.maximum(mean, 1e-12))

    def get_config(self):
        config = super().get_config()
        config.update({"weights": self.teacher_weights})
        return config


def teacher_ensemble(teachers, teacher_weights=None, name="teacher_ensemble"):
    """One teacher model from several: the log of their weighted mean
    prediction, for the `Distiller` (and the teacher-output cache).

    Each teacher's output is turned into probabilities (a softmax of its
    logits, or its own probabilities; the kind is detected as the
    `Distiller` does), the probabilities are averaged with
    `teacher_weights`, and the model outputs their log: log-probabilities,
    which losses treat as logits. With `KD(temperature=τ)` the student then
    matches `softmax(log p̄ / τ) ∝ p̄^(1/τ)`: at τ = 1 exactly the averaged
    teachers; at τ > 1 a softened average, not the average of each
    teacher's softened output (our choice: one cacheable model).

    The ensemble has no hidden layers of its own: losses that read teacher
    features (hints, attention, AMA) need a single teacher.

    Args:
        teachers: list of at least two `keras.Model`s with the same input
            shape and number of classes.
        teacher_weights: list of float >= 0 (normalised to sum to 1), one
            per teacher, or None for equal weights.
        name: str. Name of the ensemble model.

    Returns:
        A functional `keras.Model` whose teachers are frozen.

    Raises:
        ValueError: on fewer than two teachers, mismatched input shapes or
            class counts, or a bad `teacher_weights`.

    Example:

    ```python
    teacher = kd_toolkit.teacher_ensemble([resnet20, wrn_16_2])
    distiller = kd_toolkit.Distiller(teacher, student, losses=["kd"])
    ```
    """
    teachers = list(teachers)
    if len(teachers) < 2 or not all(
        isinstance(t, keras.Model) for t in teachers
    ):
        raise ValueError(
            "`teachers` must be a list of at least two keras.Model. "
            f"Received: teachers={[type(t).__name__ for t in teachers]}"
        )
    shapes = [tuple(t.inputs[0].shape[1:]) for t in teachers]
    classes = [t.outputs[0].shape[-1] for t in teachers]
    if len(set(shapes)) != 1 or len(set(classes)) != 1:
        raise ValueError(
            "Every teacher needs the same input shape and class count. "
            f"Received: input shapes {shapes}, classes {classes}"
        )
    names = [t.name for t in teachers]
    if len(set(names)) != len(names):
        raise ValueError(
            "Every teacher needs its own name (Keras layer names are unique "
            "within a model); rename one, e.g. `keras.Model(t.inputs, "
            f"t.outputs, name='teacher_2')`. Received: names {names}"
        )
    if teacher_weights is None:
        teacher_weights = [1.0] * len(teachers)
    if len(teacher_weights) != len(teachers):
        raise ValueError(
            f"`teacher_weights` needs one weight per teacher "
            f"({len(teachers)}). Received: teacher_weights={teacher_weights}"
        )
    inputs = keras.Input(shapes[0], name="image")
    probabilities = []
    for index, teacher in enumerate(teachers):
        teacher.trainable = False
        out = teacher(inputs, training=False)
        if (
            detect_output_kind(teacher, "auto", "teacher", shapes[0])
            != PROBABILITIES
        ):
            out = keras.layers.Softmax(name=f"teacher{index}_softmax")(out)
        probabilities.append(out)
    outputs = WeightedLogMeanProbabilities(
        teacher_weights, name="log_mean_probabilities"
    )(probabilities)
    return keras.Model(inputs, outputs, name=name)
