"""Edge TPU readiness of a full-integer `.tflite`: a static check only.

The Edge TPU compiler cannot be installed here, so this does not compile
anything; it checks what the compiler requires of its input, following
Coral's "TensorFlow models on the Edge TPU" page
(https://coral.ai/docs/edgetpu/models-intro/, sections "Model
requirements" and "Supported operations", as of Edge TPU compiler 16):
tensors quantized to 8 bits (32-bit integers only for biases), sizes fixed
at compile time, and only the listed operations (the compiler maps the
model up to the first unsupported one; the rest runs on the CPU).
"""

import dataclasses
import pathlib

import numpy as np

from kd_toolkit.export.runners import LiteRTRunner
from kd_toolkit.export.tflite_inspect import constant_tensors
from kd_toolkit.export.tflite_inspect import operators_in_order
from kd_toolkit.export.tflite_inspect import tensor_count

# The builtin operators of the "Supported operations" table of the page
# cited above, spelled as in the TFLite schema.
EDGETPU_OPS = frozenset(
    {
        "ADD",
        "AVERAGE_POOL_2D",
        "CONCATENATION",
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "EXPAND_DIMS",
        "FULLY_CONNECTED",
        "L2_NORMALIZATION",
        "LOGISTIC",
        "LSTM",
        "MAXIMUM",
        "MAX_POOL_2D",
        "MEAN",
        "MINIMUM",
        "MUL",
        "PACK",
        "PAD",
        "PRELU",
        "QUANTIZE",
        "REDUCE_MAX",
        "REDUCE_MIN",
        "RELU",
        "RELU6",
        "RELU_N1_TO_1",
        "RESHAPE",
        "RESIZE_BILINEAR",
        "RESIZE_NEAREST_NEIGHBOR",
        "RSQRT",
        "SLICE",
        "SOFTMAX",
        "SPACE_TO_DEPTH",
        "SPLIT",
        "SQUARED_DIFFERENCE",
        "SQUEEZE",
        "STRIDED_SLICE",
        "SUB",
        "SUM",
        "TANH",
        "TRANSPOSE",
        "TRANSPOSE_CONV",
    }
)
_EIGHT_BIT = ("int8", "uint8")


@dataclasses.dataclass(frozen=True)
class EdgeTpuCheck:
    """Result of `edgetpu_check`.

    Args:
        ready: bool. True when no problem was found.
        problems: tuple of str, one line each, in model order.
        first_unsupported_op: str or None. The first operator (in execution
            order) outside the supported list: where the compiler would
            stop mapping the model to the Edge TPU.
        note: str. What this check is and is not.
    """

    ready: bool
    problems: tuple
    first_unsupported_op: str | None
    note: str = "static check only: the Edge TPU compiler was not run"


def edgetpu_check(path):
    """Checks a `.tflite` file against the Edge TPU's model requirements.

    Args:
        path: str or `os.PathLike`. A full-integer `.tflite` file.

    Returns:
        `EdgeTpuCheck`.
    """
    path = pathlib.Path(path)
    problems = []
    flatbuffer = path.read_bytes()
    ops = operators_in_order(flatbuffer)
    unsupported = [op for op in ops if op not in EDGETPU_OPS]
    first = unsupported[0] if unsupported else None
    if first:
        problems.append(
            f"operator {first} (operator {ops.index(first) + 1} of "
            f"{len(ops)}) "
            "is not in the Edge TPU's supported list; the compiler would "
            "map only the operators before it"
            + (
                f" (unsupported: {sorted(set(unsupported))})"
                if len(set(unsupported)) > 1
                else ""
            )
        )
    runner = LiteRTRunner(path, use_xnnpack=False)
    for role, detail in (
        ("input", runner.input_detail),
        ("output", runner.output_detail),
    ):
        dtype = np.dtype(detail["dtype"]).name
        if dtype not in _EIGHT_BIT:
            problems.append(
                f"the {role} is {dtype}, not 8-bit: export "
                "with int8 input and output"
            )
        if any(int(d) < 0 for d in detail["shape_signature"]):
            problems.append(
                f"the {role} has a dynamic size "
                f"{detail['shape_signature'].tolist()}: the Edge TPU needs "
                "sizes fixed at compile time (convert with a fixed batch "
                "of 1)"
            )
    # Stored int32 tensors are biases and operator parameters (axes,
    # shapes, paddings), which quantized models keep in 32 bits.
    int32_constants = {
        t.name for t in constant_tensors(flatbuffer) if t.dtype == "INT32"
    }
    declared = tensor_count(flatbuffer)
    for tensor in runner.tensor_details()[:declared]:
        dtype = np.dtype(tensor["dtype"]).name
        if dtype in _EIGHT_BIT or (
            dtype == "int32" and tensor["name"] in int32_constants
        ):
            continue
        problems.append(
            f"tensor '{tensor['name']}' is {dtype}: weights and "
            "activations must be 8-bit (32-bit integers only for stored "
            "biases and parameters)"
        )
        break  # the first one says enough
    return EdgeTpuCheck(
        ready=not problems, problems=tuple(problems), first_unsupported_op=first
    )
