"""Quantization-aware training of a Keras 3 student with tfmot, and export.

Jacob et al., "Quantization and Training of Neural Networks for Efficient
Integer-Arithmetic-Only Inference", CVPR 2018,
https://arxiv.org/abs/1712.05877. The student is rebuilt in `tf_keras`,
wrapped by `tfmot.quantization.keras.quantize_model`'s default 8-bit scheme
(fake quantization of weights, per channel, and activations), fine-tuned
while distilling the teacher, and converted to a full-integer LiteRT model.

tfmot's default scheme only accepts a BatchNormalization that directly
follows a convolution (it is folded). A standalone one (pre-activation
ResNets such as the WRNs: `BN → ReLU → conv`) is annotated here with an
output-only quantize config: LiteRT runs it as int8 `MUL`/`ADD`.
"""

import dataclasses
import functools

import tensorflow as tf

from kd_toolkit.compress import config_graph
from kd_toolkit.compress import layer_translation
from kd_toolkit.compress import tf_keras_bridge
from kd_toolkit.compress.distill_finetune import distill_finetune
from kd_toolkit.compress.fine_tuning import QAT_FINE_TUNING
from kd_toolkit.compress.fine_tuning import check_fine_tuning
from kd_toolkit.console import native_logs
from kd_toolkit.distiller.output_kind import detect_output_kind
from kd_toolkit.export.representative import DEFAULT_REPRESENTATIVE_SAMPLES
from kd_toolkit.export.representative import collect_representative_samples
from kd_toolkit.export.representative import model_input_shape
from kd_toolkit.utils import optional_imports
from kd_toolkit.utils import validation
from kd_toolkit.utils.atomic_io import atomic_write_bytes

_FOLDING_LAYERS = ("Conv2D", "DepthwiseConv2D", "Dense")


@dataclasses.dataclass(frozen=True)
class QatResult:
    """What `quantize_aware_train` returns.

    Args:
        model: the quantization-aware `tf_keras.Model` (export it with
            `qat_to_tflite` / `export_qat_tflite`).
        history: `FinetuneHistory` of the fine-tuning.
        output_quantized_layers: tuple of str. Standalone BatchNormalization
            layers given an output-only quantize config.
    """

    model: object
    history: object
    output_quantized_layers: tuple


def quantize_model(student):
    """Rebuilds a Keras 3 student in `tf_keras` and applies tfmot's QAT.

    Args:
        student: Keras 3 functional student (see `SUPPORTED_LAYERS`).

    Returns:
        `(qat_model, output_quantized_layers)`: the quantization-aware
        `tf_keras.Model` (not trained yet) and the standalone
        BatchNormalization layers annotated with an output-only config.

    Raises:
        UnsupportedLayerError: if the bridge cannot rebuild the student.
    """
    tfmot = optional_imports.tfmot()
    qk = tfmot.quantization.keras
    legacy = tf_keras_bridge.to_tf_keras(student)
    standalone = _standalone_batch_norms(legacy)
    config_cls = _output_quantize_config_class()

    def annotate(layer):
        if layer.name in standalone or _output_only(layer):
            return qk.quantize_annotate_layer(layer, config_cls())
        return qk.quantize_annotate_layer(layer)

    annotated = tf_keras_bridge.clone_tf_keras_model(legacy, annotate)
    with qk.quantize_scope({config_cls.__name__: config_cls}):
        return qk.quantize_apply(annotated), tuple(sorted(standalone))


def quantize_aware_train(
    student,
    teacher,
    dataset,
    fine_tuning=None,
):
    """Quantization-aware fine-tuning of a student, distilling the teacher.

    Per batch (see `distill_finetune`), with the fake-quantized student's
    logits `s`:

    ```
    loss = ce_weight · CE(y, s)
         + kd_weight · τ² · KL(softmax(t/τ) ‖ softmax(s/τ))
    ```

    Args:
        student: Keras 3 functional student.
        teacher: Keras 3 teacher, or None (cross-entropy only).
        dataset: `tf.data.Dataset` of `(images, labels)` training batches.
        fine_tuning: `FineTuning` or None. None means `QAT_FINE_TUNING`:
            1 epoch at 1e-4, cosine-decayed to 0, Adam, τ 4.

    Returns:
        `QatResult`; `result.model` is a `tf_keras.Model`.

    Raises:
        UnsupportedLayerError: if the bridge cannot rebuild the student.
        ValueError: for a bad argument value.
        TypeError: if `fine_tuning` is not a `FineTuning`.

    Example:

    ```python
    result = quantize_aware_train(student, teacher, train_ds,
                                  FineTuning(epochs=1, learning_rate=1e-4))
    export_qat_tflite(result.model, "student_qat_int8.tflite",
                      kd_toolkit.data.representative_dataset("fashion_mnist"))
    ```
    """
    student_outputs = detect_output_kind(student, "auto", "student")
    qat_model, standalone = quantize_model(student)
    history = distill_finetune(
        qat_model,
        teacher,
        dataset,
        check_fine_tuning(fine_tuning, QAT_FINE_TUNING),
        student_outputs=student_outputs,
    )
    return QatResult(qat_model, history, standalone)


def qat_to_tflite(
    qat_model,
    representative_data,
    representative_samples=DEFAULT_REPRESENTATIVE_SAMPLES,
    int8_io=True,
):
    """Converts a QAT `tf_keras` model to a full-integer LiteRT flatbuffer.

    Args:
        qat_model: the `tf_keras.Model` of `quantize_aware_train`.
        representative_data: calibration images (numpy array,
            `tf.data.Dataset` or a callable yielding `[x]` lists, e.g.
            `kd_toolkit.data.representative_dataset("fashion_mnist")`).
        representative_samples: int > 0. Defaults to `200`.
        int8_io: bool. int8 input and output tensors (`True`, default) or
            float32 ones around an int8 body.

    Returns:
        bytes of the `.tflite` model (builtin int8 ops only).

    Raises:
        TypeError: if `qat_model` is not a `tf_keras` model.
        ValueError: for bad calibration data.
    """
    if not tf_keras_bridge.is_tf_keras_model(qat_model):
        raise TypeError(
            "`qat_model` must be the tf_keras model of quantize_aware_train."
            f" Received: qat_model of type {type(qat_model).__name__}"
        )
    samples = collect_representative_samples(
        representative_data,
        model_input_shape(qat_model),
        representative_samples,
    )

    def calibration():
        for i in range(len(samples)):
            yield [samples[i : i + 1]]

    converter = tf.lite.TFLiteConverter.from_keras_model(qat_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = calibration
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if int8_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    with native_logs.filtered():
        return bytes(converter.convert())


def export_qat_tflite(
    qat_model,
    path,
    representative_data,
    *,
    representative_samples=DEFAULT_REPRESENTATIVE_SAMPLES,
    int8_io=True,
    overwrite=False,
):
    """Writes `qat_to_tflite(...)` atomically to `path`.

    Args:
        qat_model: the `tf_keras.Model` of `quantize_aware_train`.
        path: str or `os.PathLike`. Target `.tflite` file.
        representative_data: see `qat_to_tflite`.
        representative_samples: int > 0. Defaults to `200`.
        int8_io: bool. Defaults to `True`.
        overwrite: bool. Replace an existing file. Defaults to `False`.

    Returns:
        The written `pathlib.Path`.

    Raises:
        FileExistsError: if `path` exists and `overwrite` is False.
    """
    validation.check_int("representative_samples", representative_samples, 1)
    content = qat_to_tflite(
        qat_model, representative_data, representative_samples, int8_io
    )
    return atomic_write_bytes(path, content, overwrite)


def _output_only(layer):
    """Layers without weights that tfmot's default scheme does not know:
    `Rescaling` (also what `x + 3.0` and `x / 6` become in the bridge),
    `Multiply` and `Subtract` (MobileNetV3's squeeze-excite gates) and the
    activations the bridge registers in `tf_keras` (hard-swish). Their
    output is quantized like any activation's."""
    name = type(layer).__name__
    activation = getattr(getattr(layer, "activation", None), "__name__", "")
    return name in ("Rescaling", "Multiply", "Subtract") or (
        name == "Activation"
        and activation in layer_translation.MISSING_ACTIVATIONS
    )


def _standalone_batch_norms(legacy):
    """BatchNormalization layers tfmot's default scheme cannot fold."""
    graph = config_graph.read_graph(legacy)
    classes = {spec["name"]: spec["class_name"] for spec in graph.layers}
    configs = {spec["name"]: spec["config"] for spec in graph.layers}
    consumers = {}
    for call in graph.calls:
        for ref in call.refs():
            consumers[ref.layer] = consumers.get(ref.layer, 0) + 1
    for ref in graph.outputs:
        consumers[ref.layer] = consumers.get(ref.layer, 0) + 1
    standalone = set()
    for call in graph.calls:
        if classes[call.layer] != "BatchNormalization":
            continue
        refs = call.refs()
        source = refs[0].layer if len(refs) == 1 else None
        folds = (
            source is not None
            and classes[source] in _FOLDING_LAYERS
            and configs[source].get("activation") == "linear"
            and consumers[source] == 1
        )
        if not folds:
            standalone.add(call.layer)
    return standalone


@functools.cache
def _output_quantize_config_class():
    """A tfmot `QuantizeConfig` quantizing only the layer output (8 bit)."""
    qk = optional_imports.tfmot().quantization.keras

    class OutputOnlyQuantizeConfig(qk.QuantizeConfig):
        """Quantizes the layer output with a moving-average 8-bit range."""

        def get_weights_and_quantizers(self, layer):
            return []

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            pass

        def set_quantize_activations(self, layer, quantize_activations):
            pass

        def get_output_quantizers(self, layer):
            return [
                qk.quantizers.MovingAverageQuantizer(
                    num_bits=8,
                    per_axis=False,
                    symmetric=False,
                    narrow_range=False,
                )
            ]

        def get_config(self):
            return {}

    return OutputOnlyQuantizeConfig
