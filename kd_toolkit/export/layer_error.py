"""Per-layer quantization error: where an int8 model loses accuracy."""

import dataclasses
import math
import pathlib

import numpy as np

from kd_toolkit.export.runners import dequantize
from kd_toolkit.export.runners import fit_input
from kd_toolkit.export.runners import quantize
from kd_toolkit.export.tflite_inspect import operator_outputs
from kd_toolkit.utils import validation
from kd_toolkit.utils.optional_imports import require


@dataclasses.dataclass(frozen=True)
class LayerError:
    """How far one op's quantized output is from its float output.

    Args:
        tensor: name of the op's output tensor (the converter joins the
            names of the Keras layers it fused with ';').
        op: LiteRT operator, e.g. `"CONV_2D"`.
        position: index of the op in execution order.
        cosine: cosine similarity of the quantized and float outputs over
            all samples (1 is perfect).
        snr_db: signal-to-noise ratio `10·log10(‖f‖² / ‖q − f‖²)` in dB
            (`inf`: identical outputs). Every 6 dB is about one bit.
        relative_error: `‖q − f‖ / ‖f‖`.
    """

    tensor: str
    op: str
    position: int
    cosine: float
    snr_db: float
    relative_error: float

    def to_dict(self):
        """JSON-ready: an infinite SNR becomes None."""
        out = dataclasses.asdict(self)
        if math.isinf(self.snr_db):
            out["snr_db"] = None
        return out


def _interpreter(model):
    litert = require("ai_edge_litert.interpreter", "per-layer errors")
    content = (
        pathlib.Path(model).read_bytes()
        if isinstance(model, (str, pathlib.Path))
        else bytes(model)
    )
    # Built-in kernels only: a delegate would hide the intermediate tensors.
    interpreter = litert.Interpreter(
        model_content=content,
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=(
            litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        ),
    )
    interpreter.allocate_tensors()
    return interpreter, content


def _as_float(value, detail):
    value = np.asarray(value)
    if detail["quantization"][0] and np.issubdtype(value.dtype, np.integer):
        return dequantize(value, detail)
    return value.astype("float32")


def _op_outputs(interpreter, content, sample):
    """`{tensor name: (op, position, float output)}` for one sample."""
    x = sample[None].astype("float32")
    fit_input(interpreter, x.shape)
    detail = interpreter.get_input_details()[0]
    if detail["quantization"][0] and np.issubdtype(detail["dtype"], np.integer):
        x = quantize(x, detail)
    interpreter.set_tensor(detail["index"], x.astype(detail["dtype"]))
    interpreter.invoke()
    details = {d["index"]: d for d in interpreter.get_tensor_details()}
    out = {}
    for position, (op, indices) in enumerate(operator_outputs(content)):
        for index in indices:
            d = details[index]
            out[d["name"]] = (
                op,
                position,
                _as_float(interpreter.get_tensor(index), d),
            )
    return out


def layer_errors(quantized_model, float_model, samples):
    """Compares every op output of a quantized model with the float model's.

    Both `.tflite` models run in LiteRT with their intermediate tensors kept
    (`experimental_preserve_all_tensors`, built-in kernels); each op output
    of the quantized model is dequantized and compared with the float
    model's tensor of the same name (the converter names tensors after the
    Keras layers, identically in both). The error of a layer includes what
    earlier layers passed on; the layer where the error jumps is the one to
    look at.

    Args:
        quantized_model: path or bytes of the quantized `.tflite`.
        float_model: path or bytes of the float32 `.tflite` of the same
            Keras model.
        samples: float32 array of inputs `(N, ...)`, N >= 1.

    Returns:
        tuple of `LayerError`, in execution order, for the op outputs found
        in both models with the same shape.

    Raises:
        ValueError: if `samples` is empty.
    """
    samples = np.asarray(samples, dtype="float32")
    validation.check_int("len(samples)", len(samples), 1)
    q_interpreter, q_content = _interpreter(quantized_model)
    f_interpreter, f_content = _interpreter(float_model)
    sums = {}
    for sample in samples:
        quantized = _op_outputs(q_interpreter, q_content, sample)
        floats = _op_outputs(f_interpreter, f_content, sample)
        for name, (op, position, q) in quantized.items():
            if name not in floats or floats[name][2].shape != q.shape:
                continue
            f = floats[name][2].astype("float64").ravel()
            q = q.astype("float64").ravel()
            s = sums.setdefault(name, [op, position, 0.0, 0.0, 0.0, 0.0])
            s[2] += float(f @ q)
            s[3] += float(f @ f)
            s[4] += float(q @ q)
            s[5] += float((q - f) @ (q - f))
    errors = []
    for name, (op, position, fq, ff, qq, noise) in sums.items():
        norms = math.sqrt(ff * qq)
        errors.append(
            LayerError(
                tensor=name,
                op=op,
                position=position,
                cosine=fq / norms if norms else float(ff == qq),
                snr_db=(
                    10 * math.log10(ff / noise)
                    if noise and ff
                    else (math.inf if not noise else -math.inf)
                ),
                relative_error=math.sqrt(noise / ff)
                if ff
                else (0.0 if not noise else math.inf),
            )
        )
    return tuple(sorted(errors, key=lambda e: e.position))


def worst(errors, n=5):
    """The `n` layers with the lowest SNR, worst first."""
    return tuple(sorted(errors, key=lambda e: e.snr_db)[:n])
