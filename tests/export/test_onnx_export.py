import numpy as np
import onnx
import pytest

from kd_toolkit.export import OnnxRunner
from kd_toolkit.export import convert_to_onnx
from kd_toolkit.export import export_onnx


def test_onnx_matches_keras_with_dynamic_batch(tiny_model, tiny_data, tmp_path):
    x, _ = tiny_data
    path = export_onnx(tiny_model, tmp_path / "m.onnx", opset=15)
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version == 15
    assert proto.graph.input[0].name == "input"
    runner = OnnxRunner(path)
    expected = np.asarray(tiny_model(x, training=False))
    for batch in (1, 7, 64):
        np.testing.assert_allclose(
            runner.predict(x[:batch]), expected[:batch], atol=1e-5
        )


@pytest.mark.parametrize("opset", [12, 22, "17", True])
def test_bad_opset(tiny_model, opset):
    with pytest.raises(ValueError, match=rf"Received: opset={opset!r}"):
        convert_to_onnx(tiny_model, opset)


def test_refuses_overwrite(tiny_model, tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"keep")
    with pytest.raises(FileExistsError, match=r"m\.onnx"):
        export_onnx(tiny_model, path)
    assert path.read_bytes() == b"keep"
