"""Reads the operator list of a LiteRT flatbuffer without running it."""

from kd_toolkit.export.optional_imports import require


def _operator_codes(flatbuffer):
    """Yields `(builtin_code, custom_code_or_None, schema)` per op code."""
    schema = require(
        "ai_edge_litert.schema_py_generated", "reading .tflite operators"
    )
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
    names = set()
    for builtin, custom, schema in _operator_codes(flatbuffer):
        if custom is not None:
            names.add(custom)
            continue
        builtin_names = {
            value: key
            for key, value in vars(schema.BuiltinOperator).items()
            if not key.startswith("_")
        }
        names.add(builtin_names.get(builtin, f"BUILTIN_{builtin}"))
    return tuple(sorted(names))


def non_builtin_ops(flatbuffer):
    """Returns the sorted custom / select TF (Flex) op names of a model.

    Args:
        flatbuffer: bytes of a `.tflite` model.

    Returns:
        tuple of str; empty for a builtin-only model.
    """
    return tuple(
        sorted({custom for _, custom, _ in _operator_codes(flatbuffer)} - {None})
    )
