from kd_toolkit.export import constant_tensors
from kd_toolkit.export import convert_to_tflite
from kd_toolkit.export import non_builtin_ops
from kd_toolkit.export import operator_names
from kd_toolkit.export.tflite_inspect import weight_bytes
from tests.export import helpers


def test_builtin_model(tiny_model):
    content = convert_to_tflite(tiny_model)
    names = operator_names(content)
    assert {"CONV_2D", "MAX_POOL_2D", "FULLY_CONNECTED"} <= set(names)
    assert non_builtin_ops(content) == ()
    tensors = constant_tensors(content)
    # BatchNorm folds into the first conv: two conv kernels, one dense.
    kernels = sorted(t.shape for t in tensors if len(t.shape) >= 2)
    assert kernels == [(4, 16), (8, 3, 3, 1), (16, 3, 3, 8)]
    assert all(t.dtype == "FLOAT32" for t in tensors if len(t.shape) >= 2)
    # The payload is at least the float32 kernels; metadata buffers are
    # not counted, so it equals the sum over stored tensors.
    assert weight_bytes(content) >= 4 * (8 * 9 + 16 * 72 + 16 * 4)
    assert weight_bytes(content) == sum(t.num_bytes for t in tensors)
    assert weight_bytes(content) < len(content)


def test_flex_model_lists_select_ops():
    content = convert_to_tflite(helpers.flex_model(), allow_select_tf_ops=True)
    assert non_builtin_ops(content) == ("FlexCumprod",)
    assert "FlexCumprod" in operator_names(content)
