"""The activation map adaptive module that stands in for teacher blocks."""

import math

import keras
from keras import layers
from keras import ops

from kd_toolkit.utils.validation import check_bool
from kd_toolkit.utils.validation import check_positive_int

KINDS = ("separable", "conv")


@keras.saving.register_keras_serializable(package="kd_toolkit")
class ActivationMapAdapter(keras.layers.Layer):
    """A light trainable module that replaces a run of teacher blocks.

    Wu et al., "Activation Map Adaptation for Effective Knowledge
    Distillation", arXiv 2010.13500, https://arxiv.org/abs/2010.13500.
    The paper's text was not available to us; the module below is our
    formalization of its abstract ("an activation map adaptive module
    replaces some blocks of the teacher").

    It maps the activation at the `start` cut, `(h, w, c_in)`, to the shape
    of the activation at the `end` cut, `(⌈h/s⌉, ⌈w/s⌉, filters)`:

    ```
    kind="separable" (default):
        A(x) = [ReLU] BN(Conv1x1(ReLU(BN(DepthwiseConv_k×k,stride s(x)))))
    kind="conv":
        A(x) = [ReLU] BN(Conv_k×k,stride s(x))
    ```

    All convolutions use "same" padding, no bias and `he_normal` init; the
    final ReLU is there when the replaced block ends in one. These defaults
    (light separable module, BN momentum 0.9, epsilon 1e-5) are our choices;
    `kind="conv"` with the right weights reproduces a conv-BN-ReLU block
    exactly. Use `adapter_for_shapes` to infer `strides` from two shapes.

    Args:
        filters: int > 0. Output channels (those of the `end` activation).
        strides: int > 0. Spatial stride. Defaults to `1`.
        kind: `"separable"` or `"conv"`. Defaults to `"separable"`.
        kernel_size: int > 0. Kernel size of the spatial convolution.
            Defaults to `3`.
        final_relu: bool. Apply a ReLU at the end. Defaults to `True`.
        bn_momentum: float in (0, 1). Defaults to `0.9`.
        bn_epsilon: float > 0. Defaults to `1e-5`.
        stop_input_gradient: bool. Block the gradient to the input. Set by
            `adapt_teacher` when nothing upstream of the adapter trains, so
            the backward pass never enters the frozen teacher layers before
            it (a smaller training graph). Defaults to `False`.
        **kwargs: `keras.layers.Layer` arguments (`name`, ...).

    Returns:
        When called on `(batch, h, w, c_in)`: `(batch, ⌈h/s⌉, ⌈w/s⌉,
        filters)`.

    Raises:
        ValueError: on a non-positive `filters`, `strides` or
            `kernel_size`, an unknown `kind`, or a BN setting out of range.

    Example:

    ```python
    adapter = ActivationMapAdapter(filters=64, strides=2, name="adapter")
    y = adapter(keras.ops.zeros((1, 14, 14, 32)))  # (1, 7, 7, 64)
    ```
    """

    def __init__(
        self,
        filters,
        strides=1,
        kind="separable",
        kernel_size=3,
        final_relu=True,
        bn_momentum=0.9,
        bn_epsilon=1e-5,
        stop_input_gradient=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_positive_int("filters", filters)
        self.strides = check_positive_int("strides", strides)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        if kind not in KINDS:
            raise ValueError(
                f"`kind` must be one of {list(KINDS)}. Received: kind={kind!r}"
            )
        self.kind = kind
        self.final_relu = check_bool("final_relu", final_relu)
        self.stop_input_gradient = check_bool(
            "stop_input_gradient", stop_input_gradient
        )
        if not _is_number(bn_momentum) or not 0.0 < bn_momentum < 1.0:
            raise ValueError(
                "`bn_momentum` must be a number in (0, 1). "
                f"Received: bn_momentum={bn_momentum!r}"
            )
        if not _is_number(bn_epsilon) or not bn_epsilon > 0.0:
            raise ValueError(
                "`bn_epsilon` must be a number > 0. "
                f"Received: bn_epsilon={bn_epsilon!r}"
            )
        self.bn_momentum = float(bn_momentum)
        self.bn_epsilon = float(bn_epsilon)
        bn = dict(momentum=self.bn_momentum, epsilon=self.bn_epsilon)
        conv = dict(padding="same", use_bias=False)
        if kind == "separable":
            self.stack = [
                layers.DepthwiseConv2D(
                    self.kernel_size,
                    strides=self.strides,
                    depthwise_initializer="he_normal",
                    name="depthwise",
                    **conv,
                ),
                layers.BatchNormalization(name="depthwise_bn", **bn),
                layers.ReLU(name="depthwise_relu"),
                layers.Conv2D(
                    self.filters,
                    1,
                    kernel_initializer="he_normal",
                    name="pointwise",
                    **conv,
                ),
                layers.BatchNormalization(name="pointwise_bn", **bn),
            ]
        else:
            self.stack = [
                layers.Conv2D(
                    self.filters,
                    self.kernel_size,
                    strides=self.strides,
                    kernel_initializer="he_normal",
                    name="conv",
                    **conv,
                ),
                layers.BatchNormalization(name="conv_bn", **bn),
            ]
        if final_relu:
            self.stack.append(layers.ReLU(name="out_relu"))

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' needs a 4-D input "
                f"(batch, height, width, channels). Received: input_shape="
                f"{tuple(input_shape)}"
            )
        for layer, in_shape, _ in self.sublayer_shapes(input_shape):
            layer.build(in_shape)
        self.built = True

    def sublayer_shapes(self, input_shape):
        """`[(sublayer, input_shape, output_shape), ...]`, in call order."""
        out = []
        shape = tuple(input_shape)
        for layer in self.stack:
            next_shape = tuple(layer.compute_output_shape(shape))
            out.append((layer, shape, next_shape))
            shape = next_shape
        return out

    def copy_weights_from(self, *layers):
        """Sets the adapter's weights from existing layers, in call order.

        With `kind="conv"`, `copy_weights_from(conv, bn)` copies a conv-BN
        (-ReLU) block, so the adapter computes exactly that block; with
        `kind="separable"`, pass `(depthwise, bn, pointwise, bn)`.

        Args:
            *layers: built layers, one per weighted sublayer of the adapter
                (see `sublayer_shapes`), with matching weight shapes.

        Raises:
            ValueError: on a wrong number of layers or a shape mismatch,
                naming both layers.
        """
        targets = [layer for layer in self.stack if layer.weights]
        if len(layers) != len(targets):
            raise ValueError(
                f"Adapter '{self.name}' ({self.kind}) has {len(targets)} "
                f"weighted sublayers {[t.name for t in targets]}. "
                f"Received: {len(layers)} layers "
                f"{[getattr(src, 'name', src) for src in layers]}"
            )
        for target, source in zip(targets, layers):
            weights = source.get_weights()
            want = [tuple(w.shape) for w in target.weights]
            got = [tuple(w.shape) for w in weights]
            if want != got:
                raise ValueError(
                    f"Cannot copy layer '{source.name}' into adapter "
                    f"sublayer '{target.name}': expected weight shapes "
                    f"{want}. Received: {got}"
                )
            target.set_weights(weights)

    def call(self, inputs, training=None):
        x = ops.stop_gradient(inputs) if self.stop_input_gradient else inputs
        for layer in self.stack:
            x = layer(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        return self.sublayer_shapes(input_shape)[-1][2]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "strides": self.strides,
                "kind": self.kind,
                "kernel_size": self.kernel_size,
                "final_relu": self.final_relu,
                "bn_momentum": self.bn_momentum,
                "bn_epsilon": self.bn_epsilon,
                "stop_input_gradient": self.stop_input_gradient,
            }
        )
        return config


def infer_strides(start_shape, end_shape):
    """The stride `s` such that "same" padding maps `start` to `end` spatially.

    Args:
        start_shape: `(batch, h, w, c)` at the `start` cut.
        end_shape: `(batch, h', w', c')` at the `end` cut.

    Returns:
        The smallest int `s >= 1` with `⌈h/s⌉ = h'` and `⌈w/s⌉ = w'`.

    Raises:
        ValueError: if the shapes are not 4-D maps, the end is spatially
            larger than the start, or no integer stride fits.
    """
    start, end = _spatial(start_shape, "start"), _spatial(end_shape, "end")
    (h, w), (eh, ew) = start, end
    if eh > h or ew > w:
        raise ValueError(
            "The adapter can keep or reduce the spatial size, not enlarge "
            f"it: the end activation ({eh}x{ew}) is larger than the start "
            f"activation ({h}x{w}). Received: start_shape="
            f"{tuple(start_shape)}, end_shape={tuple(end_shape)}"
        )
    for s in range(1, max(h, w) + 1):
        if math.ceil(h / s) == eh and math.ceil(w / s) == ew:
            return s
    raise ValueError(
        f"No integer stride maps the start activation ({h}x{w}) to the end "
        f"activation ({eh}x{ew}) with 'same' padding (⌈h/s⌉ = h'). "
        f"Received: start_shape={tuple(start_shape)}, end_shape="
        f"{tuple(end_shape)}"
    )


def adapter_for_shapes(
    start_shape,
    end_shape,
    kind="separable",
    kernel_size=3,
    final_relu=True,
    stop_input_gradient=False,
    name=None,
):
    """Builds an `ActivationMapAdapter` mapping `start_shape` to `end_shape`.

    Strides come from `infer_strides`, filters from the end's channels.

    Args:
        start_shape: shape at the `start` cut, `(batch, h, w, c)`.
        end_shape: shape at the `end` cut, `(batch, h', w', c')`.
        kind: `"separable"` or `"conv"`. Defaults to `"separable"`.
        kernel_size: int. Defaults to `3`.
        final_relu: bool. Defaults to `True`.
        stop_input_gradient: bool. Defaults to `False`.
        name: str or None. Layer name.

    Returns:
        A built `ActivationMapAdapter`.

    Raises:
        ValueError: if the end is not reachable from the start (see
            `infer_strides`).
    """
    strides = infer_strides(start_shape, end_shape)
    adapter = ActivationMapAdapter(
        filters=int(end_shape[-1]),
        strides=strides,
        kind=kind,
        kernel_size=kernel_size,
        final_relu=final_relu,
        stop_input_gradient=stop_input_gradient,
        name=name,
    )
    adapter.build((None,) + tuple(start_shape[1:]))
    return adapter


def _spatial(shape, which):
    shape = tuple(shape)
    if len(shape) != 4 or any(d is None for d in shape[1:]):
        raise ValueError(
            f"The {which} activation must be a 4-D map (batch, height, width, "
            f"channels) with known sizes. Received: {which}_shape={shape}"
        )
    return int(shape[1]), int(shape[2])


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)
