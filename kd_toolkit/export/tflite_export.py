"""Keras 3 model to LiteRT (TFLite) flatbuffer, with quantization.

Conversion path: `model.export(dir, format="tf_saved_model")` (Keras's own
SavedModel export, which tracks the Keras 3 variables) followed by
`tf.lite.TFLiteConverter.from_saved_model`. This keeps full control of the
converter (ops sets, optimizations, representative dataset, int8 I/O types).

Two other paths were rejected:

- `TFLiteConverter.from_concrete_functions([tf.function(model).
  get_concrete_function()], model)` converts without error on TF 2.21 +
  Keras 3.15 but leaves the Keras 3 variables as unfrozen resource tensors:
  the artifact returns garbage (NaN or ~1e17 logits).
- `model.export(path, format="litert")` enables select TF ops
  unconditionally and writes the file itself (no atomic write, no
  builtin-only guarantee).
"""

import pathlib
import tempfile

import numpy as np
import tensorflow as tf

from kd_toolkit.console import native_logs
from kd_toolkit.export.quantization import Quantization
from kd_toolkit.export.quantization import get_quantization
from kd_toolkit.export.representative import DEFAULT_REPRESENTATIVE_SAMPLES
from kd_toolkit.export.representative import collect_representative_samples
from kd_toolkit.export.representative import model_input_shape
from kd_toolkit.utils import compat
from kd_toolkit.utils.atomic_io import atomic_write_bytes
from kd_toolkit.utils.atomic_io import check_output_path


class UnsupportedOpsError(ValueError):
    """The model uses TensorFlow ops that LiteRT builtins cannot express.

    Attributes:
        flex_ops: tuple of str. Ops available as select TF (Flex) ops.
        custom_ops: tuple of str. Ops with no LiteRT kernel at all.
    """

    def __init__(self, message, flex_ops=(), custom_ops=()):
        super().__init__(message)
        self.flex_ops = tuple(flex_ops)
        self.custom_ops = tuple(custom_ops)


def _error_ops(error):
    """Returns ({flex op names}, {custom op names}) from a ConverterError."""
    flex, custom = set(), set()
    for data in error.errors:
        field = data.DESCRIPTOR.fields_by_name["error_code"]
        code = field.enum_type.values_by_number[data.error_code].name
        name = data.operator.name
        if not name:
            continue
        if code == "ERROR_NEEDS_FLEX_OPS":
            flex.add(name)
        elif code == "ERROR_NEEDS_CUSTOM_OPS":
            custom.add(name)
    return sorted(flex), sorted(custom)


def _raise_unsupported(error, allow_select_tf_ops):
    flex, custom = _error_ops(error)
    if custom:
        raise UnsupportedOpsError(
            "The model uses TensorFlow ops that have no LiteRT kernel, not "
            f"even as select TF (Flex) ops: {custom}. Replace them in the "
            "model before exporting. Received: "
            f"allow_select_tf_ops={allow_select_tf_ops}",
            flex_ops=flex,
            custom_ops=custom,
        ) from error
    if flex and not allow_select_tf_ops:
        raise UnsupportedOpsError(
            "The model needs TensorFlow ops that are not LiteRT builtins: "
            f"{flex}. Pass allow_select_tf_ops=True (CLI: "
            "--allow_select_tf_ops) to embed them as select TF (Flex) ops; "
            "the app must then link the Flex delegate "
            "(org.tensorflow:tensorflow-lite-select-tf-ops on Android). "
            f"Received: allow_select_tf_ops={allow_select_tf_ops}",
            flex_ops=flex,
        ) from error


def _check_representative(quantization, representative_data):
    if quantization.needs_representative_data and representative_data is None:
        raise ValueError(
            f"quantization={quantization.value!r} calibrates activation "
            "ranges and needs `representative_data` (samples from the "
            "training data, e.g. kd_toolkit.data.representative_dataset("
            "name)). Received: representative_data=None"
        )


def convert_to_tflite(
    model,
    quantization="none",
    representative_data=None,
    representative_samples=DEFAULT_REPRESENTATIVE_SAMPLES,
    allow_select_tf_ops=False,
):
    """Converts a Keras 3 model to LiteRT flatbuffer bytes.

    Args:
        model: `keras.Model` with one input, e.g. a distilled student.
        quantization: `Quantization` or str, one of `"none"`, `"float16"`,
            `"dynamic_int8"`, `"int8"`, `"int8_float_io"`. Defaults to
            `"none"`.
        representative_data: calibration samples drawn from the training
            data, required by `"int8"` and `"int8_float_io"`: a numpy array,
            a `tf.data.Dataset` or a callable yielding `[x]` lists (see
            `collect_representative_samples`). Ignored by other modes.
        representative_samples: int > 0. How many samples calibrate.
            Defaults to `200`.
        allow_select_tf_ops: bool. Allow select TF (Flex) ops when a
            builtin is missing. Defaults to `False` (builtin ops only).

    Returns:
        The flatbuffer as bytes.

    Raises:
        ValueError: for an unknown `quantization`, missing or wrongly shaped
            `representative_data`, or a model with several inputs.
        UnsupportedOpsError: if the model needs non-builtin ops and
            `allow_select_tf_ops` is False, or ops with no kernel at all.

    Example:

    ```python
    flatbuffer = convert_to_tflite(
        student, "int8", kd_toolkit.data.representative_dataset(
            "fashion_mnist"))
    ```
    """
    quantization = get_quantization(quantization)
    input_shape = model_input_shape(model)
    _check_representative(quantization, representative_data)
    samples = None
    if quantization.needs_representative_data:
        samples = collect_representative_samples(
            representative_data, input_shape, representative_samples
        )
    with (
        tempfile.TemporaryDirectory(prefix="kd_toolkit_export_") as tmp,
        native_logs.filtered(),
    ):
        model.export(tmp, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        _configure(converter, quantization, samples, allow_select_tf_ops)
        try:
            flatbuffer = converter.convert()
        except compat.ConverterError as error:
            _raise_unsupported(error, allow_select_tf_ops)
            raise
    return bytes(flatbuffer)


def _configure(converter, quantization, samples, allow_select_tf_ops):
    full_integer = quantization.needs_representative_data
    builtins = (
        tf.lite.OpsSet.TFLITE_BUILTINS_INT8
        if full_integer
        else tf.lite.OpsSet.TFLITE_BUILTINS
    )
    ops = [builtins]
    if allow_select_tf_ops:
        ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
    converter.target_spec.supported_ops = ops
    if quantization is Quantization.NONE:
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization is Quantization.FLOAT16:
        converter.target_spec.supported_types = [tf.float16]
    elif full_integer:

        def representative_dataset():
            for sample in samples:
                yield [np.expand_dims(sample, 0)]

        converter.representative_dataset = representative_dataset
        if quantization.integer_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8


def export_tflite(
    model,
    path,
    quantization="none",
    representative_data=None,
    representative_samples=DEFAULT_REPRESENTATIVE_SAMPLES,
    allow_select_tf_ops=False,
    overwrite=False,
):
    """Converts a Keras 3 model and writes the `.tflite` file atomically.

    Args:
        model: `keras.Model` with one input.
        path: str or `os.PathLike`. Target `.tflite` file.
        quantization, representative_data, representative_samples,
        allow_select_tf_ops: see `convert_to_tflite`.
        overwrite: bool. Replace an existing file. Defaults to `False`.

    Returns:
        The written path as a `pathlib.Path`.

    Raises:
        IsADirectoryError: if `path` is a directory.
        FileExistsError: if `path` exists and `overwrite` is False.
        ValueError, UnsupportedOpsError: see `convert_to_tflite`.

    Example:

    ```python
    export_tflite(student, "student_fp16.tflite", quantization="float16")
    ```
    """
    path = check_output_path(pathlib.Path(path), overwrite)
    flatbuffer = convert_to_tflite(
        model,
        quantization,
        representative_data,
        representative_samples,
        allow_select_tf_ops,
    )
    return atomic_write_bytes(path, flatbuffer, overwrite)
