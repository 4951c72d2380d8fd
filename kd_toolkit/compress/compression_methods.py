"""Names of the compression methods `compress_and_compare` runs."""

import dataclasses
import re

PRUNE = "prune"
QAT = "qat"
PTQ_INT8 = "ptq_int8"
DEFAULT_METHODS = "prune50,prune80,qat,ptq_int8"
_PRUNE_PATTERN = re.compile(r"prune([1-9][0-9]?)")
_CHOICES = "prune<NN> (NN = target sparsity in percent, 1-99), qat, ptq_int8"


@dataclasses.dataclass(frozen=True)
class CompressionMethod:
    """One compression method.

    Args:
        name: str. As written, e.g. `"prune50"`.
        kind: str. `"prune"`, `"qat"` or `"ptq_int8"`.
        sparsity: float or None. Target sparsity of a pruning method.
    """

    name: str
    kind: str
    sparsity: float | None = None


def parse_methods(methods):
    """Parses `"prune50,prune80,qat,ptq_int8"` or a sequence of names.

    Args:
        methods: str (comma-separated) or sequence of str.

    Returns:
        tuple of distinct `CompressionMethod`s, in the given order.

    Raises:
        ValueError: if empty, a name is unknown, or one is repeated.

    Example:

    ```python
    parse_methods("prune50,qat")
    # (CompressionMethod("prune50", "prune", 0.5),
    #  CompressionMethod("qat", "qat"))
    ```
    """
    items = (
        [m.strip() for m in methods.split(",") if m.strip()]
        if isinstance(methods, str)
        else list(methods)
    )
    if not items:
        raise ValueError(
            f"`methods` must name at least one of {_CHOICES}. "
            f"Received: methods={methods!r}"
        )
    parsed = []
    for item in items:
        match = (
            _PRUNE_PATTERN.fullmatch(item) if isinstance(item, str) else None
        )
        if match:
            parsed.append(
                CompressionMethod(item, PRUNE, int(match.group(1)) / 100)
            )
        elif item in (QAT, PTQ_INT8):
            parsed.append(CompressionMethod(item, item))
        else:
            raise ValueError(
                f"Unknown compression method {item!r}. Expected one of "
                f"{_CHOICES}. Received: methods={methods!r}"
            )
    names = [m.name for m in parsed]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(
            f"`methods` lists {repeated} more than once. "
            f"Received: methods={methods!r}"
        )
    return tuple(parsed)
