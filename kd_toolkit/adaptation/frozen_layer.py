"""A wrapper that runs a shared teacher layer frozen, in inference mode."""

import keras


@keras.saving.register_keras_serializable(package="kd_toolkit")
class FrozenLayer(keras.layers.Layer):
    """Runs a (shared) layer with frozen weights, always in inference mode.

    The adapted teacher is trained with `training=True` (its adapters learn,
    their batch normalization uses batch statistics), but the original
    teacher layers must behave as at inference: BatchNormalization with its
    moving statistics, no dropout, no in-model augmentation. In a Keras 3
    functional model, calling the model with `training=True` overrides a
    `training=False` recorded on a node, so an explicit argument on the node
    is not enough; this wrapper calls the layer with `training=False` from
    inside its own `call`, where nothing overrides it.

    The wrapped layer is the original object (weights shared, not copied)
    and is set `trainable=False`. The wrapper takes the layer's name, so
    feature taps and cut names keep working on the adapted model.

    Args:
        layer: the `keras.layers.Layer` to wrap.
        **kwargs: `keras.layers.Layer` arguments; `name` defaults to the
            wrapped layer's name.

    Raises:
        TypeError: if `layer` is not a `keras.layers.Layer`.

    Example:

    ```python
    frozen = FrozenLayer(teacher.get_layer("stage1_block1_bn1"))
    y = frozen(x, training=True)  # uses the moving statistics
    ```
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(
                "`layer` must be a keras.layers.Layer. Received: "
                f"layer={layer!r} of type {type(layer).__name__}"
            )
        kwargs.setdefault("name", layer.name)
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        self.layer = layer
        self.layer.trainable = False
        if layer.built:
            self.built = True

    def build(self, *args, **kwargs):
        # The wrapped layer builds itself on its first call.
        del args, kwargs
        self.built = True

    def call(self, inputs, *args, **kwargs):
        kwargs.pop("training", None)
        return self.layer(inputs, *args, training=False, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("trainable", None)
        config["layer"] = keras.saving.serialize_keras_object(self.layer)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = keras.saving.deserialize_keras_object(config["layer"])
        return cls(**config)


def unwrap(layer):
    """The original layer behind a `FrozenLayer`, else `layer` itself."""
    return layer.layer if isinstance(layer, FrozenLayer) else layer
