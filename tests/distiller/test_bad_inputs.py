"""Inputs that used to slip through `Distiller` and `fit`: each one is now
a clear error (or, where it can be legitimate, a warning)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

import kd_toolkit as kd


def _net(name, filters, classes=3, outputs=1, rescale=False):
    inputs = keras.Input((8, 8, 1))
    x = layers.Rescaling(1 / 255)(inputs) if rescale else inputs
    x = layers.Conv2D(filters, 3, padding="same", name="conv")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    heads = [
        layers.Dense(classes, name=f"logits{i}")(x) for i in range(outputs)
    ]
    return keras.Model(inputs, heads if outputs > 1 else heads[0], name=name)


def _data(n=32, classes=3):
    rng = np.random.default_rng(0)
    return rng.random((n, 8, 8, 1), dtype=np.float32), rng.integers(
        0, classes, n
    )


def test_empty_dataset_is_an_error():
    distiller = kd.Distiller(_net("t", 4), _net("s", 2))
    distiller.compile("adam")
    empty = tf.data.Dataset.from_tensor_slices(
        (np.zeros((0, 8, 8, 1), "float32"), np.zeros((0,), "int32"))
    ).batch(4)
    with pytest.raises(
        ValueError,
        match=r"ran no training step.*Received: "
        r"x=a tf.data.Dataset of 0 batches",
    ):
        distiller.fit(empty, epochs=1, verbose=0)


def test_uint8_images_are_an_error_unless_the_models_rescale():
    x, y = _data()
    images = (x * 255).astype("uint8")
    distiller = kd.Distiller(_net("t", 4), _net("s", 2))
    distiller.compile("adam")
    with pytest.raises(
        ValueError,
        match=r"images are integers.*Received: x "
        r"of dtype uint8",
    ):
        distiller.fit(images, y, epochs=1, verbose=0)
    dataset = tf.data.Dataset.from_tensor_slices((images, y)).batch(8)
    with pytest.raises(ValueError, match="Received: x of dtype uint8"):
        distiller.fit(dataset, epochs=1, verbose=0)
    rescaled = kd.Distiller(
        _net("t", 4, rescale=True), _net("s", 2, rescale=True)
    )
    rescaled.compile("adam")
    assert np.isfinite(
        rescaled.fit(images, y, epochs=1, verbose=0).history["loss"][0]
    )


def test_float_images_in_0_255_warn():
    x, y = _data()
    distiller = kd.Distiller(_net("t", 4), _net("s", 2))
    distiller.compile("adam")
    with pytest.warns(
        UserWarning,
        match=r"reach 2\d\d\.\d.*expect floats "
        r"in \[0, 1\]",
    ):
        distiller.fit(x * 255, y, epochs=1, verbose=0)


def test_one_hot_labels_with_a_sparse_loss():
    x, y = _data()
    distiller = kd.Distiller(_net("t", 4), _net("s", 2))
    distiller.compile(
        "adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    one_hot = keras.utils.to_categorical(y, 3)
    with pytest.raises(
        ValueError,
        match=r"one-hot rows.*sparse.*Received: "
        r"labels of shape \(32, 3\) and "
        r"loss=SparseCategoricalCross",
    ):
        distiller.fit(x, one_hot, epochs=1, verbose=0)
    dataset = tf.data.Dataset.from_tensor_slices((x, one_hot)).batch(8)
    with pytest.raises(ValueError, match=r"labels of shape \(None, 3\)"):
        distiller.fit(dataset, epochs=1, verbose=0)


def test_an_unbuilt_teacher_still_gets_its_class_count_checked():
    teacher = keras.Sequential([layers.Flatten(), layers.Dense(5)])
    assert not teacher.built
    with pytest.raises(
        ValueError,
        match=r"same number of classes\. "
        r"Received: teacher num_classes=5, "
        r"student num_classes=3",
    ):
        kd.Distiller(teacher, _net("s", 2))


@pytest.mark.parametrize("role", ["teacher", "student"])
def test_a_model_with_two_outputs_is_refused(role):
    models = {"teacher": _net("t", 4), "student": _net("s", 2)}
    models[role] = _net(role, 2, outputs=2)
    with pytest.raises(
        ValueError,
        match=rf"needs a {role} with one output.*"
        rf"{role}.outputs\[0\].*with 2 "
        "outputs",
    ):
        kd.Distiller(models["teacher"], models["student"])


def _classifier(name, accurate):
    """A linear teacher that reads the class from the image mean (or not)."""
    inputs = keras.Input((8, 8, 1))
    x = layers.GlobalAveragePooling2D()(inputs)
    outputs = layers.Dense(3, name="logits")(x)
    model = keras.Model(inputs, outputs, name=name)
    if accurate:
        # logits_c = -(mean - c)^2 up to a constant: 2c·mean - c².
        model.get_layer("logits").set_weights(
            [
                np.array([[0.0, 2.0, 4.0]], "float32"),
                np.array([0.0, -1.0, -4.0], "float32"),
            ]
        )
    else:
        model.get_layer("logits").set_weights(
            [np.zeros((1, 3), "float32"), np.array([0.0, 0.0, 5.0], "float32")]
        )
    return model


def _mean_coded(n=96):
    rng = np.random.default_rng(1)
    y = np.arange(n) % 3
    x = y[:, None, None, None] + rng.normal(0, 0.05, (n, 8, 8, 1))
    return x.astype("float32"), y


def test_a_teacher_near_chance_is_warned_about():
    x, y = _mean_coded()
    bad = kd.Distiller(_classifier("t", accurate=False), _net("s", 2))
    bad.compile("adam")
    with pytest.warns(
        UserWarning,
        match=r"teacher's top-1 on the first 96 "
        r"validation examples is 33\.3%.*"
        r"batch-norm moving statistics",
    ):
        bad.fit(x, y, epochs=1, verbose=0, validation_data=(x, y))
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    with pytest.warns(UserWarning, match="is 33.3%"):
        bad.fit(x, y, epochs=1, verbose=0, validation_data=dataset)


def test_a_good_teacher_is_not_warned_about(recwarn):
    x, y = _mean_coded()
    good = kd.Distiller(_classifier("t", accurate=True), _net("s", 2))
    good.compile("adam")
    good.fit(x, y, epochs=1, verbose=0, validation_data=(x, y))
    assert not [w for w in recwarn if "teacher's top-1" in str(w.message)]
    quiet = kd.Distiller(
        _classifier("t", accurate=False), _net("s", 2), check_teacher=False
    )
    quiet.compile("adam")
    quiet.fit(x, y, epochs=1, verbose=0, validation_data=(x, y))
    assert not [w for w in recwarn if "teacher's top-1" in str(w.message)]


def test_the_same_model_as_teacher_and_student_is_refused():
    model = _net("m", 4)
    with pytest.raises(
        ValueError, match=r"must be two models.*Received: teacher=student='m'"
    ):
        kd.Distiller(model, model)


def test_a_student_sharing_the_teachers_weights_is_refused():
    teacher = _net("t", 4)
    student = keras.Model(teacher.inputs, teacher.outputs, name="s")
    with pytest.raises(ValueError, match=r"shares weights with `teacher`"):
        kd.Distiller(teacher, student)


def _fit_arrays(distiller, y, **kwargs):
    x, _ = _data(len(y))
    distiller.fit(x, y, epochs=1, verbose=0, **kwargs)


def _fit_dataset(distiller, y, weights=None):
    x, _ = _data(len(y))
    parts = (x, y) if weights is None else (x, y, weights)
    distiller.fit(
        tf.data.Dataset.from_tensor_slices(parts).batch(8),
        epochs=1,
        verbose=0,
    )


_N = 16
_GOOD = np.arange(_N) % 3
_FRACTIONAL = _GOOD.astype("float32") + np.where(np.arange(_N) == 5, 0.7, 0)
_NEGATIVE_WEIGHTS = np.where(np.arange(_N) == 2, -1.0, 1.0).astype("float32")

# (id, how the bad input reaches fit, expected message)
_BAD_FIT_INPUTS = [
    (
        "float class id, arrays",
        lambda d: _fit_arrays(d, _FRACTIONAL),
        r"whole numbers\. Received: y\[5\]=2\.7",
    ),
    (
        "float class id, dataset",
        lambda d: _fit_dataset(d, _FRACTIONAL),
        r"class ids must be whole numbers",
    ),
    (
        "string labels, arrays",
        lambda d: _fit_arrays(d, np.array(["cat", "dog"] * (_N // 2))),
        r"map class names to ids first\. Received: y of dtype <U3 "
        r"\(first label 'cat'\)",
    ),
    (
        "string labels, dataset",
        lambda d: _fit_dataset(d, np.array(["cat", "dog"] * (_N // 2))),
        r"Received: labels of dtype string",
    ),
    (
        "one-hot of the wrong width, arrays",
        lambda d: _fit_arrays(d, keras.utils.to_categorical(_GOOD % 3, 4)),
        r"Received: y of shape \(16, 4\): rows of length 4, not 3",
    ),
    (
        "one-hot of the wrong width, dataset",
        lambda d: _fit_dataset(d, keras.utils.to_categorical(_GOOD % 3, 4)),
        r"Received: labels of shape \(None, 4\).*rows of length 4, not 3",
    ),
    (
        "label out of range, arrays",
        lambda d: _fit_arrays(d, _GOOD + 1),
        r"\[0, 3\).*Received: y\[2\]=3",
    ),
    (
        "negative sample weight, arrays",
        lambda d: _fit_arrays(d, _GOOD, sample_weight=_NEGATIVE_WEIGHTS),
        r"`sample_weight` must be finite and >= 0.*"
        r"Received: sample_weight\[2\]=-1\.0",
    ),
    (
        "negative sample weight, dataset",
        lambda d: _fit_dataset(d, _GOOD, weights=_NEGATIVE_WEIGHTS),
        r"`sample_weight` must be finite and >= 0",
    ),
    (
        "negative class weight",
        lambda d: _fit_arrays(d, _GOOD, class_weight={0: 1.0, 1: -2.0, 2: 1}),
        r"Received: class_weight\[1\]=-2\.0",
    ),
]


@pytest.mark.parametrize(
    "feed, message",
    [case[1:] for case in _BAD_FIT_INPUTS],
    ids=[case[0] for case in _BAD_FIT_INPUTS],
)
@pytest.mark.parametrize("jit", [False, True], ids=["eager-graph", "xla"])
def test_bad_labels_and_weights_are_refused(feed, message, jit):
    distiller = kd.Distiller(_net("t", 4), _net("s", 2))
    distiller.compile("adam", jit_compile=jit)
    with pytest.raises(
        (ValueError, tf.errors.InvalidArgumentError), match=message
    ):
        feed(distiller)
    assert not any(np.isnan(w).any() for w in distiller.student.get_weights())


def _named_input_net(name, filters):
    inputs = keras.Input((8, 8, 1), name="image")
    x = layers.Conv2D(filters, 3, padding="same")(inputs)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(3)(x), name=name)


def test_dict_inputs_validate_and_the_teacher_is_checked():
    x, y = _mean_coded()
    teacher = _named_input_net("t", 4)
    # Always class 2: a third of the balanced labels, i.e. chance.
    dense = teacher.layers[-1]
    dense.set_weights(
        [np.zeros((4, 3), "float32"), np.array([0, 0, 5], "float32")]
    )
    distiller = kd.Distiller(teacher, _named_input_net("s", 2))
    distiller.compile("adam", metrics=["accuracy"])
    dataset = tf.data.Dataset.from_tensor_slices(({"image": x}, y)).batch(16)
    # The check reads the dict inputs and finds the teacher at chance.
    with pytest.warns(UserWarning, match=r"on the first 96 .* is 33\.3%"):
        history = distiller.fit(
            dataset, validation_data=dataset, epochs=1, verbose=0
        )
    assert np.isfinite(history.history["val_loss"][0])
    with pytest.warns(UserWarning, match=r"on the first 96 .* is 33\.3%"):
        history = distiller.fit(
            {"image": x},
            y,
            validation_data=({"image": x}, y),
            epochs=1,
            verbose=0,
        )
    assert np.isfinite(history.history["val_accuracy"][0])
