"""The artifact formats the export stage writes and verifies."""

import dataclasses
import enum

from kd_toolkit.export.quantization import Quantization


class Runtime(enum.Enum):
    """The runtime that loads an artifact."""

    LITERT = "litert"
    ONNXRUNTIME = "onnxruntime"


@dataclasses.dataclass(frozen=True)
class ArtifactFormat:
    """One exportable artifact kind.

    Args:
        name: str. Public name, e.g. `"tflite_int8"`.
        runtime: `Runtime` that loads the artifact.
        quantization: `Quantization` of a LiteRT artifact; `NONE` for ONNX.
        suffix: str. File suffix, e.g. `".tflite"`.
    """

    name: str
    runtime: Runtime
    quantization: Quantization
    suffix: str

    def filename(self, basename):
        """Returns the artifact's file name, e.g. `student_tflite_int8.tflite`.

        Args:
            basename: str. Stem shared by all artifacts of one model.
        """
        return f"{basename}_{self.name}{self.suffix}"


_FORMATS = (
    ArtifactFormat(
        "tflite_float32", Runtime.LITERT, Quantization.NONE, ".tflite"
    ),
    ArtifactFormat(
        "tflite_float16", Runtime.LITERT, Quantization.FLOAT16, ".tflite"
    ),
    ArtifactFormat(
        "tflite_dynamic_int8",
        Runtime.LITERT,
        Quantization.DYNAMIC_INT8,
        ".tflite",
    ),
    ArtifactFormat("tflite_int8", Runtime.LITERT, Quantization.INT8, ".tflite"),
    ArtifactFormat(
        "tflite_int8_float_io",
        Runtime.LITERT,
        Quantization.INT8_FLOAT_IO,
        ".tflite",
    ),
    ArtifactFormat("onnx", Runtime.ONNXRUNTIME, Quantization.NONE, ".onnx"),
)
_BY_NAME = {fmt.name: fmt for fmt in _FORMATS}

# The format every size ratio is measured against.
FLOAT32_REFERENCE = _BY_NAME["tflite_float32"]


def format_names():
    """Returns the accepted format names, in a stable order."""
    return tuple(_BY_NAME)


def get_format(name):
    """Returns the `ArtifactFormat` for a name or passes one through.

    Args:
        name: `ArtifactFormat` or str, one of `format_names()`.

    Returns:
        An `ArtifactFormat`.

    Raises:
        ValueError: for an unknown name; the message lists the choices.
    """
    if isinstance(name, ArtifactFormat):
        return name
    if isinstance(name, str) and name in _BY_NAME:
        return _BY_NAME[name]
    raise ValueError(
        f"Unknown export format. Expected one of {list(format_names())}. "
        f"Received: format={name!r}"
    )


def parse_formats(formats):
    """Parses a comma-separated string or a sequence of formats.

    Args:
        formats: str such as `"tflite_float32,onnx"`, or a sequence of names
            or `ArtifactFormat`s.

    Returns:
        A tuple of distinct `ArtifactFormat`s in the given order.

    Raises:
        ValueError: if empty, a name is unknown or a format is repeated.
    """
    if isinstance(formats, str):
        items = [item.strip() for item in formats.split(",") if item.strip()]
    else:
        items = list(formats)
    if not items:
        raise ValueError(
            "`formats` must name at least one format out of "
            f"{list(format_names())}. Received: formats={formats!r}"
        )
    unknown = [
        item
        for item in items
        if isinstance(item, str) and item not in format_names()
    ]
    if unknown:
        raise ValueError(
            f"`formats` names unknown formats {unknown}. Expected one "
            f"of {list(format_names())}. Received: formats={formats!r}"
        )
    parsed = tuple(get_format(item) for item in items)
    names = [fmt.name for fmt in parsed]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(
            f"`formats` lists {duplicates} more than once. "
            f"Received: formats={formats!r}"
        )
    return parsed
