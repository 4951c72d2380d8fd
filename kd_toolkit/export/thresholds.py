"""Acceptance thresholds of an exported artifact against its Keras model."""

import dataclasses
import enum
import math

from kd_toolkit.export.artifact_format import get_format
from kd_toolkit.export.quantization import Quantization


def _check(name, value, low, high):
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or math.isnan(value)
        or not low <= value <= high
    ):
        raise ValueError(
            f"`{name}` must be None or a number in [{low}, {high}]. "
            f"Received: {name}={value!r}"
        )


@dataclasses.dataclass(frozen=True)
class AcceptanceThresholds:
    """What an artifact must satisfy to pass verification.

    `None` disables a check. The defaults of `default_thresholds` follow
    section 4 of the design (export acceptance on the test set).

    Args:
        max_abs_diff: float >= 0 or None. Largest allowed absolute difference
            between any artifact output and the Keras output.
        min_top1_agreement: float in [0, 1] or None. Least allowed fraction
            of samples whose arg-max equals the Keras arg-max.
        min_confident_agreement: float in [0, 1] or None. The same, counted
            only on predictions whose Keras top-1 margin exceeds what the
            artifact's typical output error can flip (`Parity.flip_margin`).
            A weak student has many near-ties that any rounding reorders;
            those are judged by `max_accuracy_drop` instead.
        max_accuracy_drop: float or None. Largest allowed
            `keras_accuracy - artifact_accuracy`, in percentage points.
        max_size_ratio: float > 0 or None. Largest allowed artifact file
            size as a fraction of the float32 `.tflite` file size.
        max_weights_ratio: float > 0 or None. Largest allowed LiteRT weight
            payload (stored tensor data) as a fraction of the float32
            payload. Not set by default; useful for students so small
            (under ~50k parameters) that the fixed per-file overhead (graph,
            tensor names, per-channel quantization parameters) keeps the
            file ratio above the design's bounds.
        builtin_ops_only: bool. Fail a LiteRT artifact holding custom or
            select TF (Flex) ops.

    Raises:
        ValueError: for a value outside its range.
    """

    max_abs_diff: float | None = None
    min_top1_agreement: float | None = None
    min_confident_agreement: float | None = None
    max_accuracy_drop: float | None = None
    max_size_ratio: float | None = None
    max_weights_ratio: float | None = None
    builtin_ops_only: bool = True

    def __post_init__(self):
        _check("max_abs_diff", self.max_abs_diff, 0.0, math.inf)
        _check("min_top1_agreement", self.min_top1_agreement, 0.0, 1.0)
        _check(
            "min_confident_agreement", self.min_confident_agreement, 0.0, 1.0
        )
        _check("max_accuracy_drop", self.max_accuracy_drop, -100.0, 100.0)
        _check("max_size_ratio", self.max_size_ratio, 0.0, math.inf)
        _check("max_weights_ratio", self.max_weights_ratio, 0.0, math.inf)
        if not isinstance(self.builtin_ops_only, bool):
            raise ValueError(
                "`builtin_ops_only` must be a bool. Received: "
                f"builtin_ops_only={self.builtin_ops_only!r}"
            )

    def replace(self, **changes):
        """Returns a copy with some thresholds changed (validated)."""
        return dataclasses.replace(self, **changes)


_FLOAT32_EXACT = AcceptanceThresholds(
    max_abs_diff=1e-4, min_top1_agreement=1.0, max_accuracy_drop=0.0
)
_DEFAULTS = {
    Quantization.NONE: _FLOAT32_EXACT,
    Quantization.FLOAT16: AcceptanceThresholds(
        min_confident_agreement=0.999,
        max_accuracy_drop=0.1,
        max_size_ratio=0.55,
    ),
    Quantization.DYNAMIC_INT8: AcceptanceThresholds(
        min_confident_agreement=0.99, max_accuracy_drop=0.3
    ),
    Quantization.INT8: AcceptanceThresholds(
        min_confident_agreement=0.99, max_accuracy_drop=1.0, max_size_ratio=0.30
    ),
    Quantization.INT8_FLOAT_IO: AcceptanceThresholds(
        min_confident_agreement=0.99, max_accuracy_drop=1.0, max_size_ratio=0.30
    ),
}


# Below this many parameters a LiteRT file's fixed overhead (~10 KiB of
# flatbuffer tables and metadata) dominates it: a 20k-parameter student's
# int8 file is 0.385x its float32 file while its int8 weights are 0.257x.
SMALL_MODEL_PARAMS = 100_000


class SizeBasis(enum.Enum):
    """What the size bounds of `default_thresholds` are applied to.

    - `FILE`: the file size (`max_size_ratio`), as the design states it.
    - `WEIGHTS`: the stored tensor data only (`max_weights_ratio`), for
      students so small that fixed per-file overhead dominates the file.
    - `AUTO`: `WEIGHTS` for models under `SMALL_MODEL_PARAMS` parameters,
      `FILE` otherwise (`resolve_size_basis`).
    """

    FILE = "file"
    WEIGHTS = "weights"
    AUTO = "auto"


def resolve_size_basis(size_basis, model):
    """The size basis to apply to `model`, and why.

    Args:
        size_basis: `SizeBasis` or its name.
        model: the `keras.Model` being exported.

    Returns:
        `(SizeBasis.FILE or SizeBasis.WEIGHTS, reason)`; `reason` is a
        short phrase for the report.
    """
    basis = get_size_basis(size_basis)
    if basis is not SizeBasis.AUTO:
        return basis, "as requested"
    params = model.count_params()
    if params < SMALL_MODEL_PARAMS:
        return SizeBasis.WEIGHTS, (
            f"auto: {params:,} parameters < {SMALL_MODEL_PARAMS:,}, where "
            "the file's fixed overhead dominates"
        )
    return SizeBasis.FILE, (
        f"auto: {params:,} parameters >= {SMALL_MODEL_PARAMS:,}"
    )


def get_size_basis(size_basis):
    """Returns the `SizeBasis` for a name or passes one through.

    Raises:
        ValueError: for an unknown name; the message lists the choices.
    """
    if isinstance(size_basis, SizeBasis):
        return size_basis
    for basis in SizeBasis:
        if basis.value == size_basis:
            return basis
    raise ValueError(
        f"Unknown `size_basis`. Expected one of "
        f"{[basis.value for basis in SizeBasis]}. "
        f"Received: size_basis={size_basis!r}"
    )


def default_thresholds(artifact_format, size_basis=SizeBasis.FILE):
    """Returns the design's acceptance thresholds for a format.

    | format | thresholds |
    |---|---|
    | tflite_float32, onnx | max abs diff ≤ 1e-4, agreement 100%, drop 0 |
    | tflite_float16 | conf. agreement ≥ 99.9%, drop ≤ 0.1, size ≤ 0.55× |
    | tflite_dynamic_int8 | conf. agreement ≥ 99%, drop ≤ 0.3 pt |
    | tflite_int8(_float_io) | conf. agreement ≥ 99%, drop ≤ 1, ≤ 0.30× |

    "Confident agreement" counts only predictions whose float32 margin
    exceeds what the artifact's own typical error can flip (see
    `Parity.flip_margin`): every format is judged by the same rule.

    All LiteRT formats also require builtin ops only.

    Args:
        artifact_format: `ArtifactFormat` or its name.
        size_basis: `SizeBasis` or `"file"` / `"weights"`. With `"weights"`
            the size bound moves from `max_size_ratio` to
            `max_weights_ratio`. Defaults to `"file"`.

    Returns:
        `AcceptanceThresholds`.

    Raises:
        ValueError: for an unknown format name or size basis.
    """
    thresholds = _DEFAULTS[get_format(artifact_format).quantization]
    basis = get_size_basis(size_basis)
    if basis is SizeBasis.AUTO:
        raise ValueError(
            "`default_thresholds` needs a size basis of 'file' or 'weights'; "
            "resolve 'auto' for a model with `resolve_size_basis(size_basis, "
            "model)` first. Received: size_basis='auto'"
        )
    if basis is SizeBasis.WEIGHTS:
        thresholds = thresholds.replace(
            max_size_ratio=None, max_weights_ratio=thresholds.max_size_ratio
        )
    return thresholds
