import numpy as np

from kd_toolkit.export import AcceptanceThresholds
from kd_toolkit.export import convert_to_tflite
from kd_toolkit.export import export_tflite
from kd_toolkit.export import verify_artifact
from kd_toolkit.export.tflite_inspect import weight_bytes
from tests.export import helpers

FAST = {"latency_runs": 5, "latency_warmup": 1}


def _reference(model, x):
    return np.asarray(model(x, training=False))


def test_float32_artifact_passes_design_thresholds(
    tiny_model, tiny_data, tmp_path
):
    x, y = tiny_data
    float32 = convert_to_tflite(tiny_model)
    path = export_tflite(tiny_model, tmp_path / "m.tflite")
    report = verify_artifact(
        "tflite_float32",
        path,
        _reference(tiny_model, x),
        x,
        y,
        reference_size=len(float32),
        reference_weight_bytes=weight_bytes(float32),
        **FAST,
    )
    assert report.passed, report.failed_checks
    assert report.parity.max_abs_diff <= 1e-4
    assert report.parity.top1_agreement == 1.0
    assert report.parity.accuracy_drop == 0.0
    assert report.size_ratio == 1.0 and report.weights_ratio == 1.0
    assert report.latency.runs == 5 and report.latency.median_ms > 0
    assert report.to_dict()["passed"] is True


def test_failed_checks_are_listed(tiny_model, tiny_data, tmp_path):
    x, y = tiny_data
    path = export_tflite(tiny_model, tmp_path / "q.tflite", "int8", x, 32)
    strict = AcceptanceThresholds(
        max_abs_diff=0.0, max_size_ratio=0.01, max_weights_ratio=0.01
    )
    float32 = convert_to_tflite(tiny_model)
    report = verify_artifact(
        "tflite_int8",
        path,
        _reference(tiny_model, x),
        x,
        y,
        strict,
        len(float32),
        reference_weight_bytes=weight_bytes(float32),
        **FAST,
    )
    assert not report.passed
    checks = " | ".join(report.failed_checks)
    assert "max_abs_diff" in checks and "> 0" in checks
    assert "size_ratio" in checks and "weights_ratio" in checks
    assert report.input_dtype == "int8"


def test_missing_labels_and_reference_fail_checks(
    tiny_model, tiny_data, tmp_path
):
    x, _ = tiny_data
    path = export_tflite(tiny_model, tmp_path / "m.tflite", "float16")
    report = verify_artifact(
        "tflite_float16", path, _reference(tiny_model, x), x, **FAST
    )
    assert report.failed_checks == (
        "accuracy_drop: no labels to measure accuracy",
        "size_ratio: no float32 .tflite reference",
    )


def test_artifact_the_runtime_cannot_run_fails(tmp_path):
    model = helpers.flex_model()
    path = export_tflite(
        model, tmp_path / "flex.tflite", allow_select_tf_ops=True
    )
    x = np.random.default_rng(0).uniform(size=(8, 4)).astype(np.float32)
    report = verify_artifact(
        "tflite_float32",
        path,
        _reference(model, x),
        x,
        np.zeros(8, int),
        **FAST,
    )
    assert not report.passed
    assert report.non_builtin_ops == ("FlexCumprod",)
    assert "Select TensorFlow op" in report.error
    assert report.parity is None and report.size_bytes > 0


def test_confident_agreement_is_checked(tiny_model, tiny_data, tmp_path):
    x, y = tiny_data
    path = export_tflite(tiny_model, tmp_path / "m.tflite")
    reference = _reference(tiny_model, x)
    rule = AcceptanceThresholds(min_confident_agreement=0.999)
    assert verify_artifact(
        "tflite_float32", path, reference, x, y, rule, **FAST
    ).passed
    # A reference whose confident predictions disagree with the artifact:
    # swap the two largest outputs of a clearly decided sample.
    swapped = reference.copy()
    margins = np.sort(reference, axis=1)
    i = int(np.argmax(margins[:, -1] - margins[:, -2]))
    order = np.argsort(reference[i])
    swapped[i, order[-1]], swapped[i, order[-2]] = (
        reference[i, order[-2]],
        reference[i, order[-1]],
    )
    report = verify_artifact(
        "tflite_float32", path, swapped, x, y, rule, **FAST
    )
    checks = " | ".join(report.failed_checks)
    assert "confident_agreement" in checks
    assert report.parity.confident_top1_agreement < 1.0


def test_too_few_confident_predictions_fail(tiny_model, tiny_data, tmp_path):
    x, y = tiny_data
    path = export_tflite(tiny_model, tmp_path / "m.tflite")
    # A reference far from the artifact everywhere: the flip margin exceeds
    # every margin and agreement cannot be judged.
    noisy = _reference(tiny_model, x) + np.random.default_rng(0).normal(
        0, 100, (len(x), helpers.TINY_CLASSES)
    )
    report = verify_artifact(
        "tflite_float32",
        path,
        noisy,
        x,
        y,
        AcceptanceThresholds(min_confident_agreement=0.99),
        **FAST,
    )
    assert any(
        "errors are too large to judge" in c for c in report.failed_checks
    ), report.failed_checks
