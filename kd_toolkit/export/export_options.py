"""The option groups of `export_and_verify`: how artifacts are converted,
how they are timed, and which deployment checks run."""

import dataclasses

from kd_toolkit.export.latency import DEFAULT_RUNS
from kd_toolkit.export.latency import DEFAULT_WARMUP
from kd_toolkit.export.latency_table import DEFAULT_THREADS
from kd_toolkit.export.latency_table import check_threads
from kd_toolkit.export.onnx_export import DEFAULT_OPSET
from kd_toolkit.export.onnx_export import check_opset
from kd_toolkit.export.representative import DEFAULT_REPRESENTATIVE_SAMPLES
from kd_toolkit.utils import validation
from kd_toolkit.utils.validation import check_int


@dataclasses.dataclass(frozen=True)
class Conversion:
    """How the model is converted.

    Args:
        representative_samples: int > 0. Calibration images of the
            full-integer formats. Defaults to `200`.
        allow_select_tf_ops: bool. Allow select TF (Flex) ops in LiteRT
            artifacts. Defaults to `False`.
        opset: int. ONNX opset. Defaults to `17`.

    Raises:
        ValueError: for a bad value, naming the field.
    """

    representative_samples: int = DEFAULT_REPRESENTATIVE_SAMPLES
    allow_select_tf_ops: bool = False
    opset: int = DEFAULT_OPSET

    def __post_init__(self):
        check_int("representative_samples", self.representative_samples, 1)
        check_opset(self.opset)


@dataclasses.dataclass(frozen=True)
class Timing:
    """How the artifacts are run and timed.

    Args:
        runs: int > 0. Timed single-image runs per measurement. Defaults to
            `200`.
        warmup: int >= 0. Untimed runs first. Defaults to `20`.
        num_threads: int > 0. LiteRT / onnxruntime threads of the parity
            and latency checks. Defaults to `1`.
        table_threads: tuple of int >= 1. Thread counts of the report's
            latency table (each LiteRT artifact with and without XNNPACK,
            ONNX in onnxruntime); empty skips the table. Defaults to
            `(1, 2)`.

    Raises:
        TypeError: for a value that is not an int (a tuple of them for
            `table_threads`), naming the field.
        ValueError: for a value out of range, naming the field.
    """

    runs: int = DEFAULT_RUNS
    warmup: int = DEFAULT_WARMUP
    num_threads: int = 1
    table_threads: tuple = DEFAULT_THREADS

    def __post_init__(self):
        check_int("runs", self.runs, 1)
        check_int("warmup", self.warmup, 0)
        check_int("num_threads", self.num_threads, 1)
        # A frozen dataclass sets a normalized field through object.
        object.__setattr__(
            self,
            "table_threads",
            check_threads(self.table_threads, "table_threads"),
        )


@dataclasses.dataclass(frozen=True)
class ExtraChecks:
    """What the report adds for the person who ships the model.

    Args:
        microcontroller: bool. Tensor arena and flash of each full-integer
            artifact in the TFLM interpreter, with its parity to LiteRT (an
            estimate without `tflite-micro`).
        per_layer_error: bool. Each op output of `tflite_int8` against the
            float32 `.tflite` (cosine, SNR); the worst five in the report.
        edge_tpu: bool. Static Edge TPU check of `tflite_int8`.
    """

    microcontroller: bool = False
    per_layer_error: bool = False
    edge_tpu: bool = False

    @classmethod
    def all(cls):
        """Every check on."""
        return cls(microcontroller=True, per_layer_error=True, edge_tpu=True)


def check_option(value, cls, arg):
    """`value` if it is a `cls`, `cls()` for None, else a TypeError naming
    `arg`."""
    return validation.check_option(arg, value, cls, cls(), "kd_toolkit.export")
