"""Quantization modes of a LiteRT (TFLite) artifact."""

import enum


class Quantization(enum.Enum):
    """How the LiteRT converter stores weights and computes activations.

    - `NONE`: float32 weights and activations.
    - `FLOAT16`: float16 weights, dequantized to float32 at load time.
    - `DYNAMIC_INT8`: int8 weights, float activations quantized on the fly
      (dynamic range quantization); no calibration data needed.
    - `INT8`: full-integer: int8 weights and activations, int8 input and
      output tensors (for integer-only accelerators). Needs a
      representative dataset to calibrate activation ranges.
    - `INT8_FLOAT_IO`: int8 weights and activations with float32 input and
      output tensors (quantize/dequantize ops at the model boundary).

    Use `get_quantization` to turn a string name into a mode.
    """

    NONE = "none"
    FLOAT16 = "float16"
    DYNAMIC_INT8 = "dynamic_int8"
    INT8 = "int8"
    INT8_FLOAT_IO = "int8_float_io"

    @property
    def needs_representative_data(self):
        """Whether conversion calibrates activations on sample inputs."""
        return self in (Quantization.INT8, Quantization.INT8_FLOAT_IO)

    @property
    def integer_io(self):
        """Whether the artifact's input and output tensors are int8."""
        return self is Quantization.INT8


def quantization_names():
    """Returns the accepted string names, in declaration order."""
    return tuple(mode.value for mode in Quantization)


def get_quantization(quantization):
    """Returns the `Quantization` for a name or passes a mode through.

    Args:
        quantization: `Quantization` or str, one of `quantization_names()`.

    Returns:
        A `Quantization`.

    Raises:
        ValueError: for an unknown name; the message lists the choices.

    Example:

    ```python
    get_quantization("int8")  # Quantization.INT8
    ```
    """
    if isinstance(quantization, Quantization):
        return quantization
    if isinstance(quantization, str):
        for mode in Quantization:
            if mode.value == quantization:
                return mode
    raise ValueError(
        f"Unknown `quantization`. Expected one of {list(quantization_names())}"
        f". Received: quantization={quantization!r}"
    )
