"""What to replace in a teacher: two cuts and the student layer they teach."""

import dataclasses

from kd_toolkit.adaptation.adapter import KINDS
from kd_toolkit.utils.validation import check_name


@dataclasses.dataclass(frozen=True)
class Replacement:
    """Replace the teacher blocks between two cuts by an adaptive module.

    The subgraph after the `start` cut up to and including the `end` cut is
    removed from the teacher; an `ActivationMapAdapter` computes the `end`
    activation from the `start` activation instead. Its output is the
    adapted teacher's activation map that supervises `student_layer`.

    Args:
        start: str. Layer whose output feeds the adapter (a cut, see
            `find_cuts`).
        end: str. Last replaced layer: the adapter produces its activation
            shape (a cut after `start`).
        student_layer: str or None. Student layer whose activation map is
            matched to the adapter output by `ActivationMapAdaptation`.
            `None` replaces the blocks (faster teacher) without map
            supervision. Defaults to `None`.
        kind: `"separable"` or `"conv"`: the adapter's architecture.
            Defaults to `"separable"`.
        kernel_size: int >= 1. Adapter kernel size. Defaults to `3`.
        final_relu: bool or None. Whether the adapter ends in a ReLU;
            `None` (default) uses one exactly when the `end` layer computes
            a ReLU (through `Identity` layers), so the adapter's output has
            the sign structure of the activation it replaces.
        name: str or None. Adapter layer name; defaults to `f"{end}_adapter"`.

    Raises:
        ValueError: on empty layer names, `start == end`, an unknown `kind`
            or a bad `kernel_size`.

    Example:

    ```python
    Replacement(start="stage3_block1_out", end="stage3_block3_out",
                student_layer="stage3_out")
    ```
    """

    start: str
    end: str
    student_layer: str | None = None
    kind: str = "separable"
    kernel_size: int = 3
    final_relu: bool | None = None
    name: str | None = None

    def __post_init__(self):
        for arg in ("start", "end"):
            check_name(arg, getattr(self, arg))
        for arg in ("student_layer", "name"):
            if getattr(self, arg) is not None:
                check_name(arg, getattr(self, arg))
        if self.start == self.end:
            raise ValueError(
                "`start` and `end` must be different layers. "
                f"Received: start={self.start!r}, end={self.end!r}"
            )
        if self.kind not in KINDS:
            raise ValueError(
                f"`kind` must be one of {list(KINDS)}. "
                f"Received: kind={self.kind!r}"
            )
        if (
            isinstance(self.kernel_size, bool)
            or not isinstance(self.kernel_size, int)
            or self.kernel_size < 1
        ):
            raise ValueError(
                "`kernel_size` must be an int >= 1. "
                f"Received: kernel_size={self.kernel_size!r}"
            )
        if self.final_relu is not None and not isinstance(
            self.final_relu, bool
        ):
            raise TypeError(
                "`final_relu` must be a bool or None. "
                f"Received: final_relu={self.final_relu!r}"
            )

    @property
    def adapter_name(self):
        """Name of the adapter layer in the adapted teacher."""
        return self.name or f"{self.end}_adapter"

    def get_config(self):
        """The constructor arguments, as a dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def as_replacement(value, arg="replacements"):
    """A `Replacement` from itself or its config dict."""
    if isinstance(value, Replacement):
        return value
    if isinstance(value, dict):
        return Replacement.from_config(value)
    raise TypeError(
        f"Each entry of `{arg}` must be a kd_toolkit.adaptation.Replacement. "
        f"Received: {value!r} of type {type(value).__name__}"
    )
