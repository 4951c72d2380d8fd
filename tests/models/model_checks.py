"""Checks shared by the model tests (not a test module itself)."""

import keras
import numpy as np


def random_images(input_shape, batch=2, seed=0):
    """A float32 batch of uniform [0, 1) images."""
    rng = np.random.default_rng(seed)
    return rng.random((batch, *input_shape), dtype=np.float32)


def trainable_count(model):
    """Trainable parameters (the figure papers report; BN moving stats are
    not parameters there)."""
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def assert_is_cut(model, name, x):
    """Asserts that layer `name`'s output is a cut of `model`'s graph.

    A tensor is a cut when the graph splits there into a front model
    (inputs -> tensor) and a back model (tensor -> outputs): Keras refuses
    to build the back model if any later layer needs a tensor from before
    the cut. The composition must also reproduce the full model.
    """
    cut = model.get_layer(name).output
    front = keras.Model(model.input, cut)
    back = keras.Model(cut, model.output)
    composed = back(front(x, training=False), training=False)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(composed),
        keras.ops.convert_to_numpy(model(x, training=False)),
        rtol=1e-5,
        atol=1e-5,
    )


def fit_one_step(model, x, num_classes):
    """One SGD step, so BatchNormalization moving statistics move."""
    y = np.arange(len(x)) % num_classes
    model.compile(
        optimizer=keras.optimizers.SGD(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x, y, batch_size=len(x), epochs=1, verbose=0)


def assert_save_load_round_trip(model, tmp_path, x):
    """Saves to `.keras`, loads, and asserts identical predictions."""
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.name == model.name
    assert [lay.name for lay in loaded.layers] == [
        lay.name for lay in model.layers
    ]
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded(x, training=False)),
        keras.ops.convert_to_numpy(model(x, training=False)),
    )
