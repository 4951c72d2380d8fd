"""Zero fractions of a model's weights: how sparse pruning left it."""

import dataclasses

import numpy as np

KERNEL_NAMES = ("kernel", "depthwise_kernel", "pointwise_kernel")


@dataclasses.dataclass(frozen=True)
class SparsityReport:
    """Fraction of exact zeros in selected weights and in the whole model.

    Args:
        weights: dict `"layer/weight"` -> zero fraction of that weight.
        zero_fraction: float. Zeros over all selected weight entries.
        model_zero_fraction: float. Zeros over every weight entry of the
            model (biases and BatchNormalization statistics included).
        num_selected: int. Entries in the selected weights.
        num_total: int. Entries in all weights of the model.
    """

    weights: dict
    zero_fraction: float
    model_zero_fraction: float
    num_selected: int
    num_total: int

    def to_dict(self):
        """Returns a JSON-ready dict."""
        return dataclasses.asdict(self)


def sparsity_report(model, weights=None):
    """Counts the exact zeros of a model's weights.

    Args:
        model: a Keras 3 or `tf_keras` model (plain layers: strip pruning
            wrappers first).
        weights: mapping of layer name -> sequence of weight names (e.g.
            `{"stem_conv": ["kernel"]}`), or None for every convolution and
            dense kernel (`KERNEL_NAMES`).

    Returns:
        `SparsityReport`.

    Raises:
        ValueError: if a named layer or weight does not exist.

    Example:

    ```python
    report = sparsity_report(pruned_student)
    print(f"{report.zero_fraction:.1%} of the kernels are zero")
    ```
    """
    selected, total, zeros_total = {}, 0, 0
    layer_names = [layer.name for layer in model.layers]
    if weights is not None:
        unknown = sorted(set(weights) - set(layer_names))
        if unknown:
            raise ValueError(
                f"`weights` names layers {unknown} that model "
                f"'{model.name}' does not have. Received: weights={weights!r}"
            )
    counts = [0, 0]
    for layer in model.layers:
        wanted = (
            KERNEL_NAMES
            if weights is None
            else tuple(weights.get(layer.name, ()))
        )
        found = set()
        for variable in layer.weights:
            value = np.asarray(variable.numpy())
            zeros = int(np.count_nonzero(value == 0))
            total += value.size
            zeros_total += zeros
            name = _short_name(variable.name)
            if name in wanted:
                found.add(name)
                selected[f"{layer.name}/{name}"] = zeros / max(value.size, 1)
                counts[0] += zeros
                counts[1] += value.size
        missing = sorted(set(wanted) - found) if weights is not None else []
        if missing:
            raise ValueError(
                f"Layer '{layer.name}' has no weight(s) {missing}. Received: "
                f"weights={weights!r}"
            )
    return SparsityReport(
        weights=selected,
        zero_fraction=counts[0] / counts[1] if counts[1] else 0.0,
        model_zero_fraction=zeros_total / total if total else 0.0,
        num_selected=counts[1],
        num_total=total,
    )


def _short_name(name):
    """`"conv/kernel:0"` (tf_keras) or `"kernel"` (Keras 3) -> `"kernel"`."""
    return name.split("/")[-1].split(":")[0]
