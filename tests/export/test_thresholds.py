import pytest

from kd_toolkit.export import AcceptanceThresholds
from kd_toolkit.export import default_thresholds


def test_defaults_follow_the_design_table():
    for name in ("tflite_float32", "onnx"):
        t = default_thresholds(name)
        assert (t.max_abs_diff, t.min_top1_agreement, t.max_accuracy_drop) == (
            1e-4,
            1.0,
            0.0,
        )
    fp16 = default_thresholds("tflite_float16")
    # Raw agreement punishes near-ties; agreement is judged on confident
    # predictions (DESIGN §4), the accuracy bound catches the rest.
    assert (
        fp16.min_top1_agreement,
        fp16.min_confident_agreement,
        fp16.max_accuracy_drop,
        fp16.max_size_ratio,
    ) == (None, 0.999, 0.1, 0.55)
    dynamic = default_thresholds("tflite_dynamic_int8")
    assert (dynamic.min_confident_agreement, dynamic.max_accuracy_drop) == (
        0.99,
        0.3,
    )
    for name in ("tflite_int8", "tflite_int8_float_io"):
        t = default_thresholds(name)
        assert (
            t.min_confident_agreement,
            t.max_accuracy_drop,
            t.max_size_ratio,
        ) == (0.99, 1.0, 0.30)
        assert t.builtin_ops_only and t.max_abs_diff is None


def test_replace_validates():
    t = default_thresholds("onnx").replace(max_abs_diff=1e-3)
    assert t.max_abs_diff == 1e-3
    with pytest.raises(ValueError, match=r"Received: min_top1_agreement=1\.5"):
        t.replace(min_top1_agreement=1.5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_abs_diff": -1.0}, r"Received: max_abs_diff=-1\.0"),
        ({"max_size_ratio": "0.5"}, r"Received: max_size_ratio='0\.5'"),
        (
            {"max_weights_ratio": float("nan")},
            r"Received: max_weights_ratio=nan",
        ),
        ({"builtin_ops_only": 1}, r"Received: builtin_ops_only=1"),
    ],
)
def test_bad_thresholds(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AcceptanceThresholds(**kwargs)


def test_weights_size_basis_moves_the_size_bound():
    from kd_toolkit.export import SizeBasis

    for name, bound in (("tflite_float16", 0.55), ("tflite_int8", 0.30)):
        t = default_thresholds(name, "weights")
        assert (t.max_size_ratio, t.max_weights_ratio) == (None, bound)
        assert (
            default_thresholds(name, SizeBasis.FILE).max_weights_ratio is None
        )
    with pytest.raises(
        ValueError,
        match=r"Expected one of \['file', "
        r"'weights', 'auto'\]\. Received: size_basis='payload'",
    ):
        default_thresholds("onnx", "payload")


def test_auto_size_basis_follows_the_parameter_count():
    import keras

    from kd_toolkit.export import SMALL_MODEL_PARAMS
    from kd_toolkit.export import SizeBasis
    from kd_toolkit.export import resolve_size_basis

    def dense(units):
        inputs = keras.Input((10,))
        return keras.Model(inputs, keras.layers.Dense(units)(inputs))

    small, large = dense(10), dense(SMALL_MODEL_PARAMS // 10)
    basis, why = resolve_size_basis("auto", small)
    assert basis is SizeBasis.WEIGHTS and "110 parameters < 100,000" in why
    basis, why = resolve_size_basis("auto", large)
    assert basis is SizeBasis.FILE and "parameters >= 100,000" in why
    assert resolve_size_basis("file", small)[0] is SizeBasis.FILE
    with pytest.raises(ValueError, match=r"resolve 'auto'.*first"):
        default_thresholds("tflite_int8", "auto")
