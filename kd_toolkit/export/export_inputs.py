"""The inputs of `export_and_verify`, checked and resolved: evaluation
images and labels, calibration samples, thresholds, prebuilt artifacts."""

import numpy as np

from kd_toolkit.export.representative import collect_representative_samples
from kd_toolkit.export.thresholds import AcceptanceThresholds
from kd_toolkit.export.thresholds import default_thresholds


def load_eval_data(dataset, eval_data, eval_limit):
    if eval_data is not None:
        x, y = eval_data
        x = np.asarray(x, np.float32)[:eval_limit]
        y = None if y is None else np.asarray(y)[:eval_limit]
        if not len(x) or (y is not None and len(y) != len(x)):
            raise ValueError(
                "`eval_data` must be non-empty `(x, y)` with one label per "
                f"image. Received: {len(x)} images and "
                f"{'no' if y is None else len(y)} labels"
            )
        return x, y
    if dataset is None:
        raise ValueError(
            "Pass `dataset` (a kd_toolkit.data name such as "
            "'fashion_mnist') or `eval_data=(x, y)` to verify the artifacts "
            "on. Received: dataset=None, eval_data=None"
        )
    from kd_toolkit import data

    x, y = data.load_numpy(dataset, split="test", limit=eval_limit)
    return np.asarray(x, np.float32), np.asarray(y)


def check_eval_shape(x, shape, dataset):
    """Refuses evaluation images the model cannot take, naming both."""
    want = tuple(shape[1:])
    got = tuple(x.shape[1:])
    if len(want) != len(got) or any(
        w is not None and w != g for w, g in zip(want, got)
    ):
        source = f"dataset {dataset!r}" if dataset else "`eval_data`"
        raise ValueError(
            f"The evaluation images do not fit the model: the model takes "
            f"{want}, {source} has images of shape {got}. Pass the dataset "
            "the model was trained on (or `eval_data`). Received: "
            f"images of shape {got} for a model input of {want}"
        )


def representative(formats, dataset, representative_data, samples, shape):
    needing = [
        f.name for f in formats if f.quantization.needs_representative_data
    ]
    if not needing:
        return None
    if representative_data is None:
        if dataset is None:
            raise ValueError(
                f"The full-integer formats {needing} need "
                "`representative_data` or a `dataset` whose training split "
                "provides it. Received: representative_data=None, "
                "dataset=None"
            )
        from kd_toolkit import data

        representative_data = data.representative_dataset(
            dataset, num_samples=samples, split="train"
        )
    return collect_representative_samples(representative_data, shape, samples)


def check_format_keys(arg, mapping, formats):
    """Refuses entries of `mapping` (`thresholds`, `prebuilt`) for formats
    that are not exported, naming `arg`."""
    names = [f.name for f in formats]
    unknown = sorted(set(mapping or {}) - set(names))
    if unknown:
        raise ValueError(
            f"`{arg}` has entries for formats that are not exported: "
            f"{unknown}. Expected a subset of {names}. "
            f"Received: {arg} keys={sorted(mapping)}"
        )


def check_prebuilt(formats, prebuilt):
    """`prebuilt` as a dict of non-empty bytes for formats being exported."""
    prebuilt = dict(prebuilt or {})
    check_format_keys("prebuilt", prebuilt, formats)
    for name, content in prebuilt.items():
        if not isinstance(content, bytes) or not content:
            raise TypeError(
                "`prebuilt` must map format names to non-empty bytes. "
                f"Received: prebuilt[{name!r}] of type "
                f"{type(content).__name__}"
            )
    return prebuilt


def thresholds_for(fmt, thresholds, size_basis):
    if thresholds is None or fmt.name not in thresholds:
        return default_thresholds(fmt, size_basis)
    value = thresholds[fmt.name]
    if not isinstance(value, AcceptanceThresholds):
        raise TypeError(
            f"`thresholds[{fmt.name!r}]` must be an AcceptanceThresholds. "
            f"Received: {type(value).__name__}"
        )
    return value
