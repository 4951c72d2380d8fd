"""Tests of quantization-aware training and full-integer export."""

import numpy as np
import pytest
import tensorflow as tf

from kd_toolkit import models
from kd_toolkit.compress import FineTuning
from kd_toolkit.compress import qat
from kd_toolkit.export import LiteRTRunner
from tests.compress import conftest
from tests.compress import helpers


def _interpreter(content):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content)
    interpreter.allocate_tensors()
    return interpreter


def _weight_types(content):
    """`{op name: [filter tensor type]}` of the conv / dense ops."""
    from ai_edge_litert import schema_py_generated as schema

    names = {
        v: k
        for k, v in vars(schema.BuiltinOperator).items()
        if not k.startswith("_")
    }
    types = {
        v: k
        for k, v in vars(schema.TensorType).items()
        if not k.startswith("_")
    }
    model = schema.Model.GetRootAs(content, 0)
    graph = model.Subgraphs(0)
    found = {}
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        name = names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            tensor = graph.Tensors(op.Inputs(1))
            found.setdefault(name, []).append(types[tensor.Type()])
    return found


def test_qat_model_exports_to_a_full_integer_tflite(tmp_path):
    dataset, x, _ = helpers.learnable_dataset(n=64)
    result = qat.quantize_aware_train(
        helpers.tiny_cnn(), None, dataset, FineTuning(learning_rate=1e-3)
    )
    assert result.history.steps == 2
    path = qat.export_qat_tflite(result.model, tmp_path / "s.tflite", x[:16])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.tflite"]
    content = path.read_bytes()
    interpreter = _interpreter(content)
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8
    dtypes = {d["dtype"] for d in interpreter.get_tensor_details()}
    assert dtypes <= {np.int8, np.int32}  # int32: biases, reduction axes
    assert _weight_types(content) == {
        "CONV_2D": ["INT8", "INT8"],
        "FULLY_CONNECTED": ["INT8"],
    }
    with pytest.raises(FileExistsError, match="overwrite=False"):
        qat.export_qat_tflite(result.model, path, x[:16])


def test_standalone_batch_norm_is_output_quantized():
    # Pre-activation WRN blocks: BN -> ReLU -> conv, which tfmot's default
    # scheme refuses; a conv-BN pair keeps the default (folded) handling.
    student = models.wide_resnet(10, 1, input_shape=(8, 8, 1), num_classes=3)
    qat_model, standalone = qat.quantize_model(student)
    assert "stage1_block1_bn1" in standalone
    assert "final_bn" in standalone
    assert not any(name.startswith("stem") for name in standalone)
    x = np.random.default_rng(0).uniform(size=(8, 8, 8, 1)).astype("float32")
    content = qat.qat_to_tflite(qat_model, x, int8_io=False)
    interpreter = _interpreter(content)
    assert interpreter.get_input_details()[0]["dtype"] == np.float32
    assert set(_weight_types(content)["CONV_2D"]) == {"INT8"}


def test_bad_arguments():
    student = helpers.tiny_cnn()
    with pytest.raises(TypeError, match="Received: qat_model of type"):
        qat.qat_to_tflite(student, np.zeros((1, 8, 8, 1), "float32"))
    qat_model, _ = qat.quantize_model(student)
    with pytest.raises(ValueError, match="expected shape"):
        qat.qat_to_tflite(qat_model, np.zeros((2, 5, 5, 1), "float32"))


@pytest.mark.slow
def test_real_data_qat_matches_the_float_student(fmnist, fmnist_pair, tmp_path):
    train, x, y = fmnist
    teacher, student = fmnist_pair
    float_accuracy = conftest.accuracy(student.predict(x, verbose=0), y)
    result = qat.quantize_aware_train(
        student, teacher, train, FineTuning(epochs=1, steps_per_epoch=30)
    )
    path = qat.export_qat_tflite(
        result.model,
        tmp_path / "qat.tflite",
        train.map(lambda images, _: images),
    )
    runner = LiteRTRunner(path)
    assert runner.input_dtype == "int8"
    int8_accuracy = conftest.accuracy(runner.predict(x), y)
    keras_qat = conftest.accuracy(
        result.model(tf.constant(x), training=False).numpy(), y
    )
    assert abs(int8_accuracy - keras_qat) <= 1.0
    assert int8_accuracy >= float_accuracy - 2.0, (
        float_accuracy,
        int8_accuracy,
    )
