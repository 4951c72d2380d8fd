"""FitNets hint: regress a teacher activation from a student activation."""

from keras import layers
from keras import ops

from kd_toolkit.losses.base import DistillationLoss
from kd_toolkit.losses.feature_ops import conv_connector
from kd_toolkit.losses.feature_ops import match_spatial
from kd_toolkit.losses.loss_registry import register
from kd_toolkit.utils.validation import check_name


@register("hint")
class Hint(DistillationLoss):
    """FitNets hint loss with a trainable connector (regressor).

    Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015,
    https://arxiv.org/abs/1412.6550.

    With teacher activation `u` (the hint) and student activation `v` (the
    guided layer), and a trainable connector `r`:

    ```
    loss = weight · mean_k (r(v)_k − u_k)²
    ```

    The paper uses `½‖u − r(v)‖²` summed over elements; we average over
    elements so the scale does not grow with the map size, as the
    reference code does (mdistiller's and torchdistill's `mse_loss`, batch
    mean: equal at the same `weight`, checked on fixtures with an identity
    connector, `tests/losses/reference`). The connector is a 1×1
    convolution followed by batch normalization, with a stride when the
    student map is an integer multiple of the teacher map; any size left
    over is matched by adaptive average pooling of the larger map (as
    attention transfer's reference code does; the FitNets references
    compare maps of one size only). Vector features (rank 2) use a `Dense`
    connector.
    The connector trains with the student and is not part of the student.

    Args:
        teacher_layer: str. Name of the teacher layer giving the hint.
        student_layer: str. Name of the guided student layer.
        weight: float >= 0. Multiplier of the loss. Defaults to `1.0`.
        name: str. Layer name; the metric is reported as `hint_loss`.

    Returns:
        From `compute`: `{"hint_loss": per-sample loss of shape (batch,)}`.

    Raises:
        ValueError: if the layer names are empty, or the activation ranks
            differ or are not 2 or 4.

    Example:

    ```python
    hint = kd_toolkit.losses.Hint(teacher_layer="stage2_out",
                                  student_layer="stage2_out")
    ```
    """

    def __init__(
        self, teacher_layer, student_layer, weight=1.0, name="hint", **kwargs
    ):
        super().__init__(weight=weight, name=name, **kwargs)
        self.teacher_layer = check_name("teacher_layer", teacher_layer)
        self.student_layer = check_name("student_layer", student_layer)
        self.connector = None
        self._target_hw = None

    def teacher_feature_names(self):
        return (self.teacher_layer,)

    def student_feature_names(self):
        return (self.student_layer,)

    def build_from_features(self, teacher_shapes, student_shapes):
        t_shape = tuple(teacher_shapes[self.teacher_layer])
        s_shape = tuple(student_shapes[self.student_layer])
        if len(t_shape) != len(s_shape) or len(t_shape) not in (2, 4):
            raise ValueError(
                "Hint needs two 4-D activation maps or two 2-D vectors. "
                f"Received: teacher layer '{self.teacher_layer}' with shape "
                f"{t_shape}, student layer '{self.student_layer}' with shape "
                f"{s_shape}"
            )
        if len(t_shape) == 2:
            self.connector = layers.Dense(t_shape[-1], name="connector")
            self.connector.build(s_shape)
        else:
            self.connector, self._target_hw = conv_connector(t_shape, s_shape)
        self.built = True

    def metric_names(self):
        return ("hint_loss",)

    def compute(self, inputs):
        t = ops.cast(inputs.teacher_features[self.teacher_layer], "float32")
        s = self.connector(
            inputs.student_features[self.student_layer],
            training=inputs.training,
        )
        s = ops.cast(s, "float32")
        if self._target_hw is not None:
            t = match_spatial(t, self._target_hw)
            s = match_spatial(s, self._target_hw)
        sq = ops.square(s - t)
        per_sample = ops.mean(ops.reshape(sq, (ops.shape(sq)[0], -1)), axis=-1)
        return {"hint_loss": self.weight * per_sample}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "teacher_layer": self.teacher_layer,
                "student_layer": self.student_layer,
            }
        )
        return config
