"""Imports of the optional compression dependency, with an install hint."""


def tfmot():
    """Returns the `tensorflow_model_optimization` module.

    Raises:
        ImportError: naming the extra to install when it is missing.
    """
    try:
        import tensorflow_model_optimization
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(
            "kd_toolkit.compress needs tensorflow-model-optimization and "
            "tf_keras: pip install 'kd_toolkit[compress]'"
        ) from error
    return tensorflow_model_optimization
