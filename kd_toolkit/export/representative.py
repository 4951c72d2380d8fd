"""Representative (calibration) samples for full-integer quantization."""

import numpy as np
import tensorflow as tf

DEFAULT_REPRESENTATIVE_SAMPLES = 200


def model_input_shape(model):
    """Returns the input shape of a single-input model, batch dim first.

    Raises:
        ValueError: if the model does not have exactly one input.
    """
    try:
        inputs = model.inputs
    except AttributeError:
        inputs = None
    if not inputs:
        raise ValueError(
            "The export stage needs a functional or Sequential model with "
            "one input; a subclassed model has no graph to convert (a "
            "kd_toolkit.Distiller: export its `.student`). Received: model "
            f"{model.name!r} of type {type(model).__name__}"
        )
    if len(inputs) != 1:
        raise ValueError(
            "The export stage supports single-input models. "
            f"Received: a model with {len(inputs)} inputs"
        )
    return tuple(inputs[0].shape)


def _split(element):
    """Returns the input array of one dataset element."""
    if isinstance(element, (list, tuple)):
        if not element:
            raise ValueError(
                "`representative_data` yielded an empty element. "
                f"Received: element={element!r}"
            )
        element = element[0]
    if isinstance(element, dict):
        raise ValueError(
            "`representative_data` must yield arrays or `[array]` lists, "
            "not dicts. Received: a dict with keys "
            f"{sorted(element)}"
        )
    return np.asarray(element)


def _elements(data):
    if isinstance(data, np.ndarray):
        return iter([data])
    if isinstance(data, tf.data.Dataset):
        return data.as_numpy_iterator()
    if callable(data):
        return iter(data())
    raise TypeError(
        "`representative_data` must be a numpy array, a tf.data.Dataset or a "
        "callable returning an iterator of `[x]` lists (the TFLite "
        "representative-dataset convention). Received: representative_data "
        f"of type {type(data).__name__}"
    )


def collect_representative_samples(data, input_shape, num_samples):
    """Materializes and validates calibration samples.

    Args:
        data: one of
            - numpy array of shape `(N, *input_shape[1:])`;
            - `tf.data.Dataset` yielding `x`, `(x, ...)` or `[x]`, batched or
              not;
            - callable returning an iterator of `[x]` lists, `x` of shape
              `(1, *input_shape[1:])` (`kd_toolkit.data.representative_dataset`
              returns such a callable).
        input_shape: tuple. The model input shape, batch dim first.
        num_samples: int > 0. How many samples to keep at most.

    Returns:
        float32 numpy array of shape `(n, *input_shape[1:])`, `n <=
        num_samples`.

    Raises:
        ValueError: if `num_samples` is not positive, a sample has the wrong
            shape or there are no samples.
        TypeError: if `data` is of an unsupported type.
    """
    if (
        isinstance(num_samples, bool)
        or not isinstance(num_samples, (int, np.integer))
        or num_samples <= 0
    ):
        raise ValueError(
            "`representative_samples` must be a positive int. "
            f"Received: representative_samples={num_samples!r}"
        )
    sample_shape = tuple(input_shape[1:])
    samples = []
    count = 0
    for element in _elements(data):
        array = _split(element)
        if array.shape == sample_shape:
            array = array[None]
        if array.ndim != len(sample_shape) + 1 or any(
            expected is not None and got != expected
            for got, expected in zip(array.shape[1:], sample_shape, strict=True)
        ):
            raise ValueError(
                "`representative_data` samples must match the model input: "
                f"expected shape (batch, {', '.join(map(str, sample_shape))})"
                f". Received: a sample of shape {tuple(array.shape)}"
            )
        array = array[: num_samples - count].astype(np.float32)
        samples.append(array)
        count += len(array)
        if count >= num_samples:
            break
    if not count:
        raise ValueError(
            "`representative_data` produced no samples. Received: "
            f"representative_data={data!r}"
        )
    return np.concatenate(samples, axis=0)
