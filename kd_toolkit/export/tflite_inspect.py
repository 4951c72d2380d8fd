"""Reads operators and stored tensors of a LiteRT flatbuffer, no runtime."""

import collections

from kd_toolkit.utils.optional_imports import require

ConstantTensor = collections.namedtuple(
    "ConstantTensor", ["name", "dtype", "shape", "num_bytes"]
)
ConstantTensor.__doc__ = """A tensor with stored data: `dtype` is the LiteRT
`TensorType` name (`"INT8"`, `"FLOAT16"`, ...), `shape` a tuple."""


def _schema():
    return require(
        "ai_edge_litert.schema_py_generated", "reading .tflite files"
    )


def _enum_names(enum_class):
    """`{value: name}` of a flatbuffer schema enum class."""
    return {
        value: key
        for key, value in vars(enum_class).items()
        if not key.startswith("_")
    }


def _operator_codes(flatbuffer):
    """Yields `(builtin_code, custom_code_or_None, schema)` per op code."""
    schema = _schema()
    model = schema.Model.GetRootAs(flatbuffer, 0)
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        # Codes above 127 only live in `BuiltinCode`; the deprecated byte
        # field saturates at 127 (PLACEHOLDER_FOR_GREATER_OP_CODES).
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        custom = None
        if builtin == schema.BuiltinOperator.CUSTOM:
            custom = code.CustomCode().decode("utf-8")
        yield builtin, custom, schema


def operator_names(flatbuffer):
    """Returns the sorted distinct operator names of a LiteRT model.

    Builtin ops are named by their `BuiltinOperator` name (e.g.
    `"CONV_2D"`); custom and select TF (Flex) ops by their custom code
    (e.g. `"FlexCumprod"`).

    Args:
        flatbuffer: bytes of a `.tflite` model.

    Returns:
        tuple of str.
    """
    return tuple(sorted(set(_code_names(flatbuffer))))


def _code_names(flatbuffer):
    """The name of each operator code of the model, in code order."""
    builtin_names = _enum_names(_schema().BuiltinOperator)
    names = []
    for builtin, custom, _ in _operator_codes(flatbuffer):
        if custom is not None:
            names.append(custom)
            continue
        names.append(builtin_names.get(builtin, f"BUILTIN_{builtin}"))
    return names


def non_builtin_ops(flatbuffer):
    """Returns the sorted custom / select TF (Flex) op names of a model.

    Args:
        flatbuffer: bytes of a `.tflite` model.

    Returns:
        tuple of str; empty for a builtin-only model.
    """
    customs = {custom for _, custom, _ in _operator_codes(flatbuffer)}
    return tuple(sorted(customs - {None}))


def constant_tensors(flatbuffer):
    """Returns the tensors that carry stored data (weights, biases, ...).

    Args:
        flatbuffer: bytes of a `.tflite` model.

    Returns:
        tuple of `ConstantTensor(name, dtype, shape, num_bytes)`, e.g.
        `ConstantTensor("conv", "INT8", (8, 3, 3, 1), 72)`, over the first
        subgraph. Kernels have rank >= 2; biases rank 1.
    """
    schema = _schema()
    type_names = _enum_names(schema.TensorType)
    model = schema.Model.GetRootAs(flatbuffer, 0)
    subgraph = model.Subgraphs(0)
    tensors = []
    for i in range(subgraph.TensorsLength()):
        tensor = subgraph.Tensors(i)
        size = model.Buffers(tensor.Buffer()).DataLength()
        if size:
            tensors.append(
                ConstantTensor(
                    name=tensor.Name().decode("utf-8"),
                    dtype=type_names.get(tensor.Type(), str(tensor.Type())),
                    shape=tuple(int(d) for d in tensor.ShapeAsNumpy()),
                    num_bytes=size,
                )
            )
    return tuple(tensors)


def weight_bytes(flatbuffer):
    """Returns the bytes of stored tensor data (the weight payload).

    Counts each tensor buffer once (tensors may share one); metadata
    buffers (runtime version, conversion metadata) are not weights. The rest
    of a file is graph structure, tensor names and quantization parameters:
    a fixed overhead that dominates tiny models.
    """
    model = _schema().Model.GetRootAs(flatbuffer, 0)
    buffers = set()
    for s in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(s)
        for i in range(subgraph.TensorsLength()):
            buffers.add(subgraph.Tensors(i).Buffer())
    return sum(model.Buffers(i).DataLength() for i in buffers)


def tensor_count(flatbuffer):
    """Number of tensors the model's first subgraph declares (the
    interpreter may add scratch tensors after them)."""
    return _schema().Model.GetRootAs(flatbuffer, 0).Subgraphs(0).TensorsLength()


def operators_in_order(flatbuffer):
    """The operator names of the first subgraph, one per operator, in the
    order the interpreter runs them (e.g. `("CONV_2D", "MEAN", ...)`)."""
    codes = _code_names(flatbuffer)
    subgraph = _schema().Model.GetRootAs(flatbuffer, 0).Subgraphs(0)
    return tuple(
        codes[subgraph.Operators(i).OpcodeIndex()]
        for i in range(subgraph.OperatorsLength())
    )


def operator_outputs(flatbuffer):
    """`((op_name, output tensor indices), ...)` of the first subgraph in
    execution order; the indices are the interpreter's tensor indices."""
    names = operators_in_order(flatbuffer)
    subgraph = _schema().Model.GetRootAs(flatbuffer, 0).Subgraphs(0)
    return tuple(
        (
            names[i],
            tuple(int(t) for t in subgraph.Operators(i).OutputsAsNumpy()),
        )
        for i in range(subgraph.OperatorsLength())
    )


ActivationTensor = collections.namedtuple(
    "ActivationTensor", ["name", "num_bytes", "first_op", "last_op"]
)
ActivationTensor.__doc__ = """A tensor without stored data, batch 1: it lives
from op `first_op` (0 for a model input) to op `last_op` (the op count for a
model output)."""

_ELEMENT_BYTES = {
    "FLOAT64": 8,
    "INT64": 8,
    "UINT64": 8,
    "COMPLEX64": 8,
    "FLOAT32": 4,
    "INT32": 4,
    "UINT32": 4,
    "FLOAT16": 2,
    "INT16": 2,
    "UINT16": 2,
    "BFLOAT16": 2,
}


def activation_tensors(flatbuffer):
    """The first subgraph's activation tensors with their lifetimes.

    Returns:
        tuple of `ActivationTensor(name, num_bytes, first_op, last_op)`.
    """
    schema = _schema()
    type_names = _enum_names(schema.TensorType)
    model = schema.Model.GetRootAs(flatbuffer, 0)
    graph = model.Subgraphs(0)
    n_ops = graph.OperatorsLength()
    first = {int(i): 0 for i in graph.InputsAsNumpy()}
    last = {int(i): n_ops for i in graph.OutputsAsNumpy()}
    for position in range(n_ops):
        op = graph.Operators(position)
        for i in op.OutputsAsNumpy():
            first.setdefault(int(i), position)
        for i in op.InputsAsNumpy():
            if i >= 0:
                last[int(i)] = max(last.get(int(i), position), position)
    tensors = []
    for i in range(graph.TensorsLength()):
        tensor = graph.Tensors(i)
        if model.Buffers(tensor.Buffer()).DataLength() or i not in first:
            continue  # weights (stored in the file), or never written
        elements = 1
        for d in tensor.ShapeAsNumpy():
            elements *= max(1, int(d))
        tensors.append(
            ActivationTensor(
                tensor.Name().decode("utf-8"),
                elements * _ELEMENT_BYTES.get(type_names.get(tensor.Type()), 1),
                first[i],
                last.get(i, first[i]),
            )
        )
    return tuple(tensors)
