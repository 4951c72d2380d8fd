"""A model named on the command line: zoo name, `.keras` file, or a
`keras.applications` architecture with its arguments.

`--student=resnet8` builds from `kd_toolkit.models`; `--student=my.keras`
loads a user's model; `--student=MobileNetV3Small
--student_kwargs=alpha=0.5,minimalistic=True` builds that application with
random weights (`weights=None`), the run's input shape and class count,
and logits out (`classifier_activation=None`), so a user's own pair needs
no Python.
"""

import ast
import inspect

import keras

from kd_toolkit import models
from kd_toolkit.utils import validation


def application_names():
    """The `keras.applications` architectures (`MobileNetV3Small`, ...)."""
    return sorted(
        name
        for name, value in vars(keras.applications).items()
        if name[:1].isupper() and callable(value)
    )


def parse_kwargs(text, arg="student_kwargs"):
    """`"alpha=0.5,minimalistic=True"` -> `{"alpha": 0.5, ...}`.

    Values are Python literals (numbers, True/False/None, quoted strings);
    a bare word is taken as a string.

    Raises:
        ValueError: for an item without `=`, naming the flag.
    """
    if not text:
        return {}
    out = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(
                f"`{arg}` must be comma-separated key=value pairs, e.g. "
                f"alpha=0.5,minimalistic=True. Received: {arg}={text!r}"
            )
        value = value.strip()
        try:
            out[key.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key.strip()] = value
    return out


def check_spec(spec, role):
    """Raises unless `spec` is a zoo name, a `.keras` path or an
    application name; the message lists the choices."""
    if str(spec).endswith(".keras"):
        return
    choices = models.names() + application_names()
    validation.check_choice(role, spec, choices)


def build(
    spec,
    input_shape,
    num_classes,
    *,
    width=None,
    kwargs=None,
    seed=0,
    role="student",
):
    """The model `spec` names, initialised from `seed`.

    Args:
        spec: a zoo name, a `.keras` path or a `keras.applications` name.
        input_shape: `(H, W, C)` of the run's images.
        num_classes: the run's class count.
        width: `base_width` of a zoo ResNet (zoo names only).
        kwargs: dict of extra constructor arguments (applications, and the
            zoo's own).
        seed: seed of the random initialisation.
        role: `"teacher"` or `"student"`, for messages.

    Raises:
        ValueError: for an unknown name, a `.keras` model whose input shape
            or class count does not fit the run, or arguments the
            architecture does not take.
    """
    kwargs = dict(kwargs or {})
    keras.utils.set_random_seed(seed)
    if str(spec).endswith(".keras"):
        model = keras.saving.load_model(spec, compile=False)
        _check_fits(model, input_shape, num_classes, role, spec)
        return model
    if spec in models.names():
        if width is not None:
            kwargs["base_width"] = width
        return models.get(
            spec, input_shape=input_shape, num_classes=num_classes, **kwargs
        )
    check_spec(spec, role)
    build_fn = getattr(keras.applications, spec)
    accepted = inspect.signature(build_fn).parameters
    defaults = {
        "input_shape": tuple(input_shape),
        "weights": None,
        "classes": num_classes,
        "classifier_activation": None,
        # kd_toolkit images are in [0, 1]: no built-in 0..255 rescaling.
        "include_preprocessing": False,
    }
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(
            f"keras.applications.{spec} takes no {unknown}. Expected "
            f"arguments among {sorted(accepted)}. Received: {role}_kwargs="
            f"{kwargs}"
        )
    args = {k: v for k, v in defaults.items() if k in accepted}
    args.update(kwargs)
    try:
        return build_fn(**args)
    except ValueError as error:
        raise ValueError(
            f"keras.applications.{spec} cannot be built for images of shape "
            f"{tuple(input_shape)} ({error}). Received: {role}={spec!r}"
        ) from error


def _check_fits(model, input_shape, num_classes, role, path):
    got_in = tuple(model.inputs[0].shape[1:])
    got_out = model.outputs[0].shape[-1]
    fits = len(got_in) == len(input_shape) and all(
        g is None or g == w for g, w in zip(got_in, input_shape)
    )
    if not fits or got_out != num_classes:
        raise ValueError(
            f"The {role} in {path!r} does not fit the data: it takes "
            f"{got_in} and outputs {got_out} classes; the images are "
            f"{tuple(input_shape)} with {num_classes} classes. Received: "
            f"{role}={path!r}"
        )
