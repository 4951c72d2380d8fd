"""What a student search chooses from and what the chosen one must fit:
`Candidate` (a student builder with a name), `default_ladder` and
`Budget` (latency, flash, tensor arena, Edge TPU readiness, format)."""

import ast
import dataclasses
import math
import re
from collections.abc import Callable

from kd_toolkit import models
from kd_toolkit.export.artifact_format import format_names
from kd_toolkit.utils.validation import check_bool
from kd_toolkit.utils.validation import check_int

# The formats a microcontroller (TFLM) or an Edge TPU runs: full integer.
FULL_INTEGER_FORMATS = ("tflite_int8",)


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One student the search may pick.

    Args:
        name: str. Shown in the table; also (made file-safe) the name of
            the candidate's result file, so it must be unique in a search.
        build: callable `(input_shape, num_classes) -> keras.Model`
            returning a logit model.

    Example:

    ```python
    Candidate.zoo("resnet8", base_width=4)
    Candidate.parse("mobilenet_tiny:filters=(8, 16, 32)")
    Candidate("mine", lambda shape, classes: my_model(shape, classes))
    ```
    """

    name: str
    build: Callable

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(
                "`Candidate.name` must be a non-empty string. Received: "
                f"name={self.name!r}"
            )
        if not callable(self.build):
            raise TypeError(
                "`Candidate.build` must be a callable (input_shape, "
                f"num_classes) -> keras.Model. Received: {self.build!r}"
            )

    @classmethod
    def zoo(cls, arch, **kwargs):
        """A zoo model (`kd_toolkit.models.names()`) with its options,
        named `arch:key=value,...`."""
        if arch not in models.names():
            raise ValueError(
                f"Unknown zoo model for a candidate. Valid names: "
                f"{models.names()}. Received: arch={arch!r}"
            )
        options = ",".join(f"{k}={v!r}" for k, v in sorted(kwargs.items()))
        name = f"{arch}:{options}" if options else arch

        def build(input_shape, num_classes):
            return models.get(
                arch, input_shape=input_shape, num_classes=num_classes, **kwargs
            )

        return cls(name.replace("'", ""), build)

    @classmethod
    def parse(cls, spec):
        """`"resnet8:base_width=4"` or `"mobilenet_tiny:filters=(8, 16,
        32),blocks_per_stage=1"`: a zoo name and Python-literal keyword
        arguments, as on the `kd-search` command line."""
        arch, _, options = str(spec).partition(":")
        kwargs = {}
        if options.strip():
            try:
                call = ast.parse(f"f({options})", mode="eval").body
                kwargs = {
                    k.arg: ast.literal_eval(k.value) for k in call.keywords
                }
                if call.args or any(k.arg is None for k in call.keywords):
                    raise ValueError
            except (SyntaxError, ValueError):
                raise ValueError(
                    "A candidate is `zoo_name` or `zoo_name:key=value,...` "
                    "with Python-literal values, e.g. resnet8:base_width=4. "
                    f"Received: {spec!r}"
                ) from None
        return cls.zoo(arch.strip(), **kwargs)

    @property
    def file_stem(self):
        """The name as a file name (`file_stem`)."""
        return file_stem(self.name)


def file_stem(name):
    """`name` as a file name: each run of characters outside
    `[A-Za-z0-9._=+-]` becomes one `_` (a candidate's or a refinement's
    result file and folder)."""
    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", name).strip("_")


def default_ladder():
    """Students from about 5k to about 300k parameters (at 28×28×1 and
    10 classes): ResNet-8 at widths 4, 8 and 16, ResNet-14 and ResNet-20
    at width 16, and two MobileNet-like nets. A zoo model's parameter
    count barely depends on the image size (global pooling)."""
    return [
        Candidate.zoo("resnet8", base_width=4),
        Candidate.zoo("mobilenet_tiny", filters=(16, 32, 64)),
        Candidate.zoo("resnet8", base_width=8),
        Candidate.zoo("mobilenet_tiny", filters=(32, 64, 128)),
        Candidate.zoo("resnet8", base_width=16),
        Candidate.zoo("resnet14", base_width=16),
        Candidate.zoo("resnet20", base_width=16),
    ]


def check_candidates(candidates):
    """A list of `Candidate`s from candidates, zoo specs (strings) or
    None (the default ladder); names must be unique."""
    if candidates is None:
        return default_ladder()
    if isinstance(candidates, (str, Candidate)):
        candidates = [candidates]
    out = [
        c if isinstance(c, Candidate) else Candidate.parse(c)
        for c in candidates
    ]
    if not out:
        raise ValueError("`candidates` must not be empty. Received: []")
    stems = [c.file_stem for c in out]
    repeated = sorted({s for s in stems if stems.count(s) > 1})
    if repeated:
        raise ValueError(
            "Every candidate needs its own name (it names its result file). "
            f"Received repeated names: {repeated}"
        )
    return out


@dataclasses.dataclass(frozen=True)
class Budget:
    """What the shipped student must fit. Every bound is optional.

    Args:
        latency_ms: float > 0 or None. Median batch-1 latency on LiteRT.
        threads: int >= 1. LiteRT threads the latency is measured with.
        xnnpack: bool. Measure with LiteRT's default delegate (XNNPACK);
            False: its built-in kernels only.
        flash_bytes: int > 0 or None. File size of the artifact.
        arena_bytes: int > 0 or None. TFLM tensor arena (measured in the
            TFLM interpreter when `tflite-micro` is installed, else
            estimated; the report says which). Needs a full-integer format.
        edge_tpu: bool. The artifact must pass the static Edge TPU check.
            Needs a full-integer format.
        format: str. The artifact format shipped (`kd_toolkit.export.
            format_names()`, a `.tflite` one). Defaults to `"tflite_int8"`.

    Raises:
        ValueError: on a bound out of range, an unknown or non-LiteRT
            format, or an arena / Edge TPU bound on a format that is not
            full integer.
    """

    latency_ms: float | None = None
    threads: int = 1
    xnnpack: bool = True
    flash_bytes: int | None = None
    arena_bytes: int | None = None
    edge_tpu: bool = False
    format: str = "tflite_int8"

    def __post_init__(self):
        if self.latency_ms is not None and not (
            isinstance(self.latency_ms, (int, float))
            and math.isfinite(self.latency_ms)
            and self.latency_ms > 0
        ):
            raise ValueError(
                "`latency_ms` must be a number > 0 or None. Received: "
                f"latency_ms={self.latency_ms!r}"
            )
        check_int("threads", self.threads, 1)
        check_bool("xnnpack", self.xnnpack)
        check_bool("edge_tpu", self.edge_tpu)
        check_int("flash_bytes", self.flash_bytes, 1, allow_none=True)
        check_int("arena_bytes", self.arena_bytes, 1, allow_none=True)
        tflite = [n for n in format_names() if n.startswith("tflite")]
        if self.format not in tflite:
            raise ValueError(
                f"`format` must be a LiteRT format, one of {tflite}. "
                f"Received: format={self.format!r}"
            )
        needs_int = [
            arg
            for arg, on in (
                ("arena_bytes", self.arena_bytes is not None),
                ("edge_tpu", self.edge_tpu),
            )
            if on
        ]
        if needs_int and self.format not in FULL_INTEGER_FORMATS:
            raise ValueError(
                f"{needs_int} apply to full-integer artifacts only: pass "
                f"format='tflite_int8'. Received: format={self.format!r}"
            )

    @property
    def delegate(self):
        """The latency table's delegate name for these settings."""
        return "xnnpack" if self.xnnpack else "builtin"

    def misses(self, record):
        """One line per bound the candidate's record exceeds (empty: it
        fits). A figure the record lacks counts as a miss."""
        out = []
        for what, bound, value, unit in (
            ("latency", self.latency_ms, record.get("latency_ms"), "ms"),
            ("flash", self.flash_bytes, record.get("flash_bytes"), "B"),
            ("arena", self.arena_bytes, record.get("arena_bytes"), "B"),
        ):
            if bound is None:
                continue
            if value is None:
                out.append(f"{what} not measured")
            elif value > bound:
                out.append(
                    f"{what} {_number(value)} {unit} > {_number(bound)} {unit}"
                    f" ({value / bound:.2f}x the budget)"
                )
        if self.edge_tpu and not record.get("edge_tpu_ready"):
            first = record.get("edge_tpu_problem") or "not checked"
            out.append(f"not Edge TPU ready: {first}")
        return out

    def describe(self):
        """One line, e.g. `tflite_int8, 1 thread (XNNPACK), latency <=
        0.05 ms`."""
        parts = [
            f"{self.format}, {self.threads} thread"
            + ("s" if self.threads > 1 else "")
            + (" (XNNPACK)" if self.xnnpack else " (built-in kernels)")
        ]
        if self.latency_ms is not None:
            parts.append(f"latency <= {_number(self.latency_ms)} ms")
        if self.flash_bytes is not None:
            parts.append(f"flash <= {self.flash_bytes:,} B")
        if self.arena_bytes is not None:
            parts.append(f"arena <= {self.arena_bytes:,} B")
        if self.edge_tpu:
            parts.append("Edge TPU ready")
        return ", ".join(parts)


def _number(value):
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"
