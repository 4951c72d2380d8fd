"""Run a Keras model, a LiteRT artifact or an ONNX artifact on numpy data.

Every runner maps float32 inputs to float32 outputs: the LiteRT runner
quantizes inputs and dequantizes outputs of int8-I/O artifacts with the
tensors' own scale and zero point, so all artifacts compare with Keras on
the same footing.
"""

import abc
import pathlib

import numpy as np
import tensorflow as tf

from kd_toolkit.console import native_logs
from kd_toolkit.utils.optional_imports import require

DEFAULT_BATCH_SIZE = 256
_ONNX_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
}


class Runner(abc.ABC):
    """Float-in, float-out inference on numpy arrays."""

    @abc.abstractmethod
    def predict(self, x, batch_size=DEFAULT_BATCH_SIZE):
        """Returns float32 outputs for a float32 batch `x`."""

    @abc.abstractmethod
    def single_call(self, sample):
        """Returns a no-argument callable running one image `(1, ...)`.

        The callable does what an app does per image: feed the input
        (quantizing it when the artifact needs that), run, read the output.
        """


def _batches(x, batch_size):
    for start in range(0, len(x), batch_size):
        yield x[start : start + batch_size]


class KerasRunner(Runner):
    """Runs the Keras model in inference mode (`training=False`).

    Single-image calls go through one traced `tf.function`, the fastest way
    to serve a Keras 3 model from Python (eager calls add per-layer Python
    overhead; `model.predict` adds per-call data-pipeline overhead).
    """

    def __init__(self, model):
        self.model = model

    def predict(self, x, batch_size=DEFAULT_BATCH_SIZE):
        outputs = [
            np.asarray(self.model(batch, training=False), np.float32)
            for batch in _batches(np.asarray(x, np.float32), batch_size)
        ]
        return np.concatenate(outputs, axis=0)

    def single_call(self, sample):
        serve = tf.function(lambda t: self.model(t, training=False))
        tensor = tf.constant(np.asarray(sample, np.float32))
        return lambda: serve(tensor).numpy()


def quantize(x, detail):
    """`x` in the integer type of a LiteRT tensor `detail` (its `dtype` and
    `quantization` = (scale, zero point)), rounded and clipped."""
    scale, zero_point = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    q = np.round(x / scale + zero_point)
    return np.clip(q, info.min, info.max).astype(detail["dtype"])


def dequantize(q, detail):
    """Float32 values of the integers `q` of a LiteRT tensor `detail`."""
    scale, zero_point = detail["quantization"]
    return ((q.astype(np.float32) - zero_point) * scale).astype(np.float32)


def fit_input(interpreter, shape):
    """Resizes a LiteRT interpreter's input to `shape` if it differs.

    A model with a dynamic input (`(None, None, 3)`) is allocated at a
    placeholder size (often 1×1); feeding it a real image needs a resize
    and a new allocation first.
    """
    detail = interpreter.get_input_details()[0]
    if tuple(detail["shape"]) != tuple(shape):
        interpreter.resize_tensor_input(detail["index"], list(shape))
        interpreter.allocate_tensors()


class LiteRTRunner(Runner):
    """Runs a `.tflite` file in the LiteRT interpreter (`ai_edge_litert`).

    Args:
        path: str or `os.PathLike`. The `.tflite` file.
        num_threads: int. Interpreter threads. Defaults to `1`.
        use_xnnpack: bool. Run with LiteRT's default delegate (XNNPACK);
            False uses its built-in kernels only
            (`OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES`). Defaults
            to `True`.

    Raises:
        ImportError: if `ai_edge_litert` is missing (with the install hint).
        RuntimeError / ValueError: from the interpreter if it cannot load
            the model (e.g. select TF ops without the Flex delegate).
    """

    def __init__(self, path, num_threads=1, use_xnnpack=True):
        litert = require("ai_edge_litert.interpreter", "running .tflite files")
        self.path = pathlib.Path(path)
        self.num_threads = num_threads
        self._interpreter_class = litert.Interpreter
        self._resolver = (
            litert.OpResolverType.AUTO
            if use_xnnpack
            else litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        )
        self._batch_interpreter = self._new_interpreter()
        self.input_detail = self._batch_interpreter.get_input_details()[0]
        self.output_detail = self._batch_interpreter.get_output_details()[0]
        self._batch_size = None

    def _new_interpreter(self):
        with native_logs.filtered():
            interpreter = self._interpreter_class(
                model_path=str(self.path),
                num_threads=self.num_threads,
                experimental_op_resolver_type=self._resolver,
            )
            interpreter.allocate_tensors()
        return interpreter

    @property
    def input_dtype(self):
        return np.dtype(self.input_detail["dtype"]).name

    @property
    def output_dtype(self):
        return np.dtype(self.output_detail["dtype"]).name

    def tensor_details(self):
        """Returns the interpreter's per-tensor details (name, dtype, ...)."""
        return self._batch_interpreter.get_tensor_details()

    def _to_input(self, x):
        if np.issubdtype(self.input_detail["dtype"], np.integer):
            return quantize(x, self.input_detail)
        return x.astype(self.input_detail["dtype"])

    def _from_output(self, y):
        if np.issubdtype(self.output_detail["dtype"], np.integer):
            return dequantize(y, self.output_detail)
        return y.astype(np.float32)

    def _run(self, interpreter, x):
        interpreter.set_tensor(self.input_detail["index"], self._to_input(x))
        interpreter.invoke()
        return self._from_output(
            interpreter.get_tensor(self.output_detail["index"])
        )

    def predict(self, x, batch_size=DEFAULT_BATCH_SIZE):
        x = np.asarray(x, np.float32)
        batch_size = min(batch_size, len(x))
        interpreter = self._batch_interpreter
        if self._batch_size != batch_size:
            interpreter.resize_tensor_input(
                self.input_detail["index"], [batch_size, *x.shape[1:]]
            )
            interpreter.allocate_tensors()
            self._batch_size = batch_size
        outputs = []
        for batch in _batches(x, batch_size):
            n = len(batch)
            if n < batch_size:  # Pad the last batch; keep one allocation.
                pad = np.zeros((batch_size - n, *x.shape[1:]), np.float32)
                batch = np.concatenate([batch, pad], axis=0)
            outputs.append(self._run(interpreter, batch)[:n])
        return np.concatenate(outputs, axis=0)

    def single_call(self, sample):
        interpreter = self._new_interpreter()
        sample = np.asarray(sample, np.float32)
        fit_input(interpreter, sample.shape)
        return lambda: self._run(interpreter, sample)


class OnnxRunner(Runner):
    """Runs a `.onnx` file in onnxruntime on the CPU execution provider.

    Args:
        path: str or `os.PathLike`. The `.onnx` file.
        num_threads: int. Intra-op threads. Defaults to `1`.

    Raises:
        ImportError: if onnxruntime is missing (with the install hint).
    """

    def __init__(self, path, num_threads=1):
        ort = require("onnxruntime", "running .onnx files")
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        self.input_dtype = _ONNX_TYPES.get(model_input.type, model_input.type)
        model_output = self.session.get_outputs()[0]
        self.output_dtype = _ONNX_TYPES.get(
            model_output.type, model_output.type
        )

    def _run(self, x):
        return np.asarray(
            self.session.run(None, {self.input_name: x})[0], np.float32
        )

    def predict(self, x, batch_size=DEFAULT_BATCH_SIZE):
        x = np.asarray(x, np.float32)
        return np.concatenate(
            [self._run(batch) for batch in _batches(x, batch_size)], axis=0
        )

    def single_call(self, sample):
        sample = np.asarray(sample, np.float32)
        return lambda: self._run(sample)
