import json
import os

import keras
import numpy as np
import pytest

from kd_toolkit.export import AcceptanceThresholds
from kd_toolkit.export import Conversion
from kd_toolkit.export import ExtraChecks
from kd_toolkit.export import LiteRTRunner
from kd_toolkit.export import Timing
from kd_toolkit.export import constant_tensors
from kd_toolkit.export import default_thresholds
from kd_toolkit.export import export_and_verify
from kd_toolkit.export import format_names
from tests.export import helpers

FAST = {"timing": Timing(runs=5, warmup=1)}


def test_float_formats_pass_and_are_written(tiny_model, tiny_data, tmp_path):
    report = export_and_verify(
        tiny_model,
        "tflite_float32,onnx",
        tmp_path,
        eval_data=tiny_data,
        basename="s",
        **FAST,
    )
    assert report.passed, report.to_markdown()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "export_report.json",
        "export_report.md",
        "s_onnx.onnx",
        "s_tflite_float32.tflite",
    ]
    saved = json.loads((tmp_path / "export_report.json").read_text())
    assert saved == json.loads(report.to_json())
    assert report.num_eval_samples == len(tiny_data[0])


def test_failing_artifact_is_moved_aside(tiny_model, tiny_data, tmp_path):
    impossible = {
        "tflite_float32": default_thresholds("tflite_float32").replace(
            max_size_ratio=0.5
        )
    }
    report = export_and_verify(
        tiny_model,
        ["tflite_float32"],
        tmp_path,
        eval_data=tiny_data,
        thresholds=impossible,
        basename="s",
        **FAST,
    )
    assert not report.passed and report.failed == ("tflite_float32",)
    (artifact,) = report.artifacts
    assert artifact.failed_checks == ("size_ratio 1.000 > 0.500",)
    assert artifact.path.endswith("s_tflite_float32.tflite.failed")
    assert not (tmp_path / "s_tflite_float32.tflite").exists()
    assert (tmp_path / "s_tflite_float32.tflite.failed").exists()
    assert "FAIL: size_ratio" in (tmp_path / "export_report.md").read_text()


def test_conversion_error_is_reported(tmp_path):
    model = helpers.flex_model()
    x = np.random.default_rng(0).uniform(size=(8, 4)).astype(np.float32)
    report = export_and_verify(
        model,
        "tflite_float16,onnx",
        tmp_path,
        eval_data=(x, np.zeros(8, int)),
        write_report=False,
        **FAST,
    )
    assert report.failed == ("tflite_float16",)
    assert "UnsupportedOpsError" in report.artifacts[0].error
    assert "tf.Cumprod" in report.artifacts[0].error
    assert report.artifacts[1].passed  # ONNX has a CumProd operator.


def test_refuses_to_overwrite_before_converting(
    tiny_model, tiny_data, tmp_path
):
    (tmp_path / "export_report.md").write_text("old")
    with pytest.raises(FileExistsError, match="export_report.md"):
        export_and_verify(
            tiny_model,
            "tflite_float32",
            tmp_path,
            eval_data=tiny_data,
            basename="s",
            **FAST,
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export_report.md"]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            {"formats": "tflite_int8"},
            ValueError,
            r"\['tflite_int8'\] need `representative_data` or a `dataset`",
        ),
        (
            {"eval_data": None},
            ValueError,
            r"Received: dataset=None, "
            r"eval_data=None",
        ),
        ({"formats": "tflite_bf16"}, ValueError, r"Expected one of \["),
        (
            {"timing": {"runs": 5}},
            TypeError,
            r"`timing` must be a kd_toolkit\.export\.Timing\. Received: "
            r"timing=\{'runs': 5\} of type dict",
        ),
        (
            {"eval_data": (np.zeros((0, 8, 8, 1)), None)},
            ValueError,
            r"Received: 0 images and no labels",
        ),
        (
            {"eval_data": (np.zeros((3, 8, 8, 1)), [0, 1])},
            ValueError,
            r"Received: 3 images and 2 labels",
        ),
        ({"eval_limit": -1}, ValueError, r"Received: eval_limit=-1"),
        (
            {"conversion": 17, "formats": "onnx"},
            TypeError,
            r"`conversion` must be a kd_toolkit\.export\.Conversion",
        ),
        ({"checks": True}, TypeError, r"`checks` must be"),
        (
            {"thresholds": {"tflite_float32": {"max_abs_diff": 1.0}}},
            TypeError,
            r"must be an AcceptanceThresholds\. Received: dict",
        ),
    ],
)
def test_bad_arguments(tiny_model, tiny_data, tmp_path, kwargs, error, match):
    arguments = {"formats": "tflite_float32", "eval_data": tiny_data, **FAST}
    arguments.update(kwargs)
    out_dir = tmp_path / "not_yet"
    with pytest.raises(error, match=match):
        export_and_verify(tiny_model, out_dir=out_dir, **arguments)
    # Nothing half-made is left behind: not even an empty folder.
    assert not out_dir.exists()


def test_out_dir_that_is_a_file(tiny_model, tiny_data, tmp_path):
    file_path = tmp_path / "artifacts"
    file_path.write_text("")
    with pytest.raises(NotADirectoryError, match="an existing file"):
        export_and_verify(tiny_model, "onnx", file_path, eval_data=tiny_data)


@pytest.fixture(scope="module")
def exported(fashion_student, tmp_path_factory):
    model, eval_data = fashion_student
    out_dir = tmp_path_factory.mktemp("artifacts")
    report = export_and_verify(
        model,
        format_names(),
        out_dir,
        dataset="fashion_mnist",
        eval_data=eval_data,
        conversion=Conversion(
            representative_samples=helpers.REAL_REPRESENTATIVE
        ),
        basename="student",
        timing=Timing(runs=50, warmup=5),
        checks=ExtraChecks.all(),
    )
    print(report.to_markdown())
    return report, out_dir


@pytest.mark.slow
def test_real_export_report_has_the_deployment_checks(exported):
    """The microcontroller fit of both full-integer artifacts (measured in
    TFLM, parity-checked against LiteRT), the per-layer int8 error of
    tflite_int8 and its Edge TPU check, in the Markdown and JSON reports."""
    report, out_dir = exported
    checks = report.deployment
    assert [m.artifact for m in checks.micro] == [
        "tflite_int8",
        "tflite_int8_float_io",
    ]
    for m in checks.micro:
        assert m.measured and m.arena_bytes > 0
        assert m.flash_bytes == os.path.getsize(
            out_dir / f"student_{m.artifact}.tflite"
        )
        # TFLM's reference kernels against LiteRT's: measured 0-2 output
        # steps apart (rounding in requantization), same top-1.
        assert m.parity_samples == 32 and m.max_diff_steps <= 3
        assert m.top1_agreement >= 0.95
    assert len(checks.layer_errors) >= 5
    assert all(e.cosine > 0.9 for e in checks.layer_errors)
    assert checks.edge_tpu is not None
    text = (out_dir / "export_report.md").read_text()
    for section in (
        "## Microcontroller fit",
        "## Per-layer int8 error",
        "## Edge TPU readiness",
    ):
        assert section in text
    saved = json.loads((out_dir / "export_report.json").read_text())
    assert saved["deployment"]["micro"][0]["arena_bytes"] == (
        checks.micro[0].arena_bytes
    )


@pytest.mark.slow
def test_real_export_report_has_the_latency_table(exported):
    """Every passing artifact of the real Fashion-MNIST export, at 1 and 2
    threads, LiteRT with and without XNNPACK, ONNX in onnxruntime."""
    report, out_dir = exported
    rows = report.latency_table
    formats = [a.format for a in report.artifacts if a.passed]
    want = {
        (f, t, d)
        for f in formats
        for t in (1, 2)
        for d in (("cpu",) if f == "onnx" else ("xnnpack", "builtin"))
    }
    assert {(r.artifact, r.threads, r.delegate) for r in rows} == want
    for r in rows:
        assert 0 < r.median_ms <= r.p90_ms and r.runs == 50
        assert r.vs_float32 > 0
        if r.artifact == "tflite_float32":
            assert r.vs_float32 == pytest.approx(1.0)
    saved = json.loads((out_dir / "export_report.json").read_text())
    assert len(saved["latency_table"]) == len(rows)
    text = (out_dir / "export_report.md").read_text()
    assert "## Latency, batch 1" in text
    assert "| tflite_int8 | litert | 2 | builtin |" in text


@pytest.mark.slow
def test_model_card_records_io_and_its_python_snippet_runs(exported, tmp_path):
    from kd_toolkit import data
    from kd_toolkit.export import model_card

    report, out_dir = exported
    names = data.dataset_info("fashion_mnist").class_names
    json_path, md_path = model_card.write_model_card(
        report, tmp_path, class_names=names, output_kind="logits"
    )
    card = json.loads(json_path.read_text())
    assert card["input"]["range"] == [0.0, 1.0]
    assert card["output"] == {"kind": "logits", "classes": list(names)}
    by_format = {a["format"]: a for a in card["artifacts"]}
    int8 = by_format["tflite_int8"]
    runner = LiteRTRunner(out_dir / int8["file"])
    scale, zero_point = runner.input_detail["quantization"]
    assert int8["input"] == {
        "dtype": "int8",
        "shape": [1, 28, 28, 1],
        "scale": pytest.approx(scale),
        "zero_point": zero_point,
    }
    assert by_format["tflite_float32"]["input"]["dtype"] == "float32"
    assert "scale" not in by_format["tflite_float32"]["input"]
    text = md_path.read_text()
    assert "**untested**" in text and "student_tflite_int8.tflite" in text
    # Edge TPU, static check: int8 everywhere and supported operators; the
    # only gap is the dynamic batch size of a Keras export.
    edgetpu = int8["edgetpu"]
    assert edgetpu["first_unsupported_op"] is None
    assert [p.split(":")[0] for p in edgetpu["problems"]] == [
        "the input has a dynamic size [-1, 28, 28, 1]",
        "the output has a dynamic size [-1, 10]",
    ]
    assert "static check only" in text
    # The Python snippet, run as written against the int8 file.
    snippet = text.split("```python\n")[1].split("```")[0]
    namespace = {}
    cwd = os.getcwd()
    os.chdir(out_dir)
    try:
        exec(snippet, namespace)
    finally:
        os.chdir(cwd)
    assert 0 <= namespace["label"] < 10
    assert namespace["y"].dtype == np.float32  # dequantized


@pytest.mark.slow
def test_edgetpu_check_names_float_tensors(exported):
    from kd_toolkit.export.edgetpu_check import edgetpu_check

    _, out_dir = exported
    check = edgetpu_check(out_dir / "student_tflite_dynamic_int8.tflite")
    assert not check.ready
    assert "the input is float32, not 8-bit" in check.problems[0]
    assert any(
        "is float32: weights and activations" in p for p in check.problems
    )


@pytest.mark.slow
def test_every_format_passes_on_fashion_mnist(exported):
    report, out_dir = exported
    assert report.passed, report.to_markdown()
    assert report.keras_accuracy > 60.0  # The student learned something.
    assert report.num_eval_samples == helpers.REAL_EVAL_IMAGES
    by_name = {a.format: a for a in report.artifacts}
    assert set(by_name) == set(format_names())
    for name in ("tflite_float32", "onnx"):
        assert by_name[name].parity.max_abs_diff <= 1e-4
        assert by_name[name].parity.top1_agreement == 1.0
        assert by_name[name].parity.cosine_similarity > 0.999999
    fp16 = by_name["tflite_float16"]
    assert fp16.parity.top1_agreement >= 0.999
    assert fp16.parity.accuracy_drop <= 0.1 and fp16.size_ratio <= 0.55
    assert by_name["tflite_dynamic_int8"].parity.accuracy_drop <= 0.3
    for name in ("tflite_int8", "tflite_int8_float_io"):
        assert by_name[name].parity.accuracy_drop <= 1.0
        assert by_name[name].size_ratio <= 0.30
        assert by_name[name].non_builtin_ops == ()
    for artifact in report.artifacts:
        suffix = ".onnx" if artifact.format == "onnx" else ".tflite"
        assert (out_dir / f"student_{artifact.format}{suffix}").is_file()
        assert artifact.latency.median_ms > 0


@pytest.mark.slow
def test_int8_artifact_is_integer_only(exported):
    report, out_dir = exported
    path = out_dir / "student_tflite_int8.tflite"
    runner = LiteRTRunner(path)
    assert (runner.input_dtype, runner.output_dtype) == ("int8", "int8")
    tensors = constant_tensors(path.read_bytes())
    assert {t.dtype for t in tensors if len(t.shape) >= 2} == {"INT8"}
    assert {t.dtype for t in tensors if len(t.shape) == 1} <= {"INT32"}
    # 3 conv kernels and the logits kernel.
    assert sum(len(t.shape) >= 2 for t in tensors) == 4
    float_io = LiteRTRunner(out_dir / "student_tflite_int8_float_io.tflite")
    assert (float_io.input_dtype, float_io.output_dtype) == (
        "float32",
        "float32",
    )
    assert isinstance(report.artifacts[0].thresholds, AcceptanceThresholds)


def test_threshold_keys_must_be_exported_formats(
    tiny_model, tiny_data, tmp_path
):
    with pytest.raises(ValueError, match=r"not exported: \['tflite_fp16'\]"):
        export_and_verify(
            tiny_model,
            "onnx",
            tmp_path,
            eval_data=tiny_data,
            thresholds={"tflite_fp16": AcceptanceThresholds()},
        )


def test_failed_rerun_removes_the_stale_artifact(
    tiny_model, tiny_data, tmp_path
):
    export_and_verify(
        tiny_model, "onnx", tmp_path, eval_data=tiny_data, basename="s", **FAST
    )
    assert (tmp_path / "s_onnx.onnx").is_file()
    strict = {
        "onnx": AcceptanceThresholds(max_abs_diff=0.0, max_size_ratio=0.01)
    }
    report = export_and_verify(
        tiny_model,
        "onnx",
        tmp_path,
        eval_data=tiny_data,
        basename="s",
        thresholds=strict,
        overwrite=True,
        **FAST,
    )
    assert report.failed == ("onnx",)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "export_report.json",
        "export_report.md",
        "s_onnx.onnx.failed",
    ]


def test_size_basis_for_tiny_students(tiny_model, tiny_data, tmp_path):
    # A 1.3k-parameter model: the fixed file overhead dominates, so the file
    # ratio of float16 misses 0.55 while its weight payload is at 0.50.
    def size_checks(size_basis):
        report = export_and_verify(
            tiny_model,
            "tflite_float16",
            tmp_path,
            eval_data=tiny_data,
            size_basis=size_basis,
            overwrite=True,
            **FAST,
        )
        (artifact,) = report.artifacts
        assert artifact.weights_ratio == pytest.approx(0.5, abs=0.02)
        return [c for c in artifact.failed_checks if "ratio" in c]

    (failed,) = size_checks("file")
    assert failed.startswith("size_ratio ") and failed.endswith("> 0.550")
    assert size_checks("weights") == []
    # The default picks the weights for a model this small, and says so.
    assert size_checks("auto") == []
    report = json.loads((tmp_path / "export_report.json").read_text())
    assert report["size_basis"].startswith("weights (auto: ")


def test_a_distiller_or_a_misfit_dataset_is_named(tiny_model, tmp_path):
    import kd_toolkit as kd

    distiller = kd.Distiller(tiny_model, keras.models.clone_model(tiny_model))
    with pytest.raises(ValueError, match=r"export its `\.student`"):
        export_and_verify(distiller, "tflite_float32", tmp_path, **FAST)
    rgb = np.zeros((4, 32, 32, 3), "float32"), np.zeros(4, "int64")
    with pytest.raises(
        ValueError,
        match=r"the model takes \(.*\), `eval_data` has images of shape "
        r"\(32, 32, 3\)",
    ):
        export_and_verify(
            tiny_model, "tflite_float32", tmp_path, eval_data=rgb, **FAST
        )
    assert not list(tmp_path.iterdir())


def test_a_model_with_a_dynamic_spatial_input_passes(tiny_data, tmp_path):
    """`(None, None, C)` inputs: the single-image latency runs resize the
    interpreter's input instead of failing every LiteRT artifact."""
    x, y = tiny_data
    keras.utils.set_random_seed(3)
    inputs = keras.Input((None, None, x.shape[-1]))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inputs, keras.layers.Dense(int(y.max()) + 1)(h))
    report = export_and_verify(
        model,
        "tflite_float32,tflite_dynamic_int8,onnx",
        tmp_path,
        eval_data=(x, y),
        **FAST,
    )
    assert report.passed, [a.failed_checks for a in report.artifacts]
    assert not list(tmp_path.glob("*.failed"))
    for artifact in report.artifacts:
        assert artifact.latency is not None and artifact.latency.runs > 0


def test_prebuilt_bytes_are_verified_in_place_of_a_conversion(
    tiny_model, tiny_data, tmp_path
):
    from kd_toolkit.export import convert_to_tflite

    # Another model's file, handed in as this model's artifact: verified
    # against this model, it fails parity (it was not converted again).
    other = keras.models.clone_model(tiny_model)
    other.set_weights([w * -1.0 for w in tiny_model.get_weights()])
    report = export_and_verify(
        tiny_model,
        ["tflite_float32"],
        tmp_path / "other",
        eval_data=tiny_data,
        prebuilt={"tflite_float32": convert_to_tflite(other)},
        timing=Timing(runs=5, warmup=1, table_threads=()),
    )
    assert not report.passed
    assert report.artifacts[0].path.endswith(".failed")
    # This model's own bytes pass.
    own = export_and_verify(
        tiny_model,
        ["tflite_float32"],
        tmp_path / "own",
        eval_data=tiny_data,
        prebuilt={"tflite_float32": convert_to_tflite(tiny_model)},
        timing=Timing(runs=5, warmup=1, table_threads=()),
    )
    assert own.passed, own.to_markdown()


@pytest.mark.parametrize(
    "prebuilt, error, match",
    [
        ({"onnx": b"x"}, ValueError, r"Received: prebuilt keys=\['onnx'\]"),
        ({"tflite_float32": "x"}, TypeError, "of type str"),
        ({"tflite_float32": b""}, TypeError, "non-empty bytes"),
    ],
)
def test_bad_prebuilt(tiny_model, tiny_data, tmp_path, prebuilt, error, match):
    with pytest.raises(error, match=match):
        export_and_verify(
            tiny_model,
            ["tflite_float32"],
            tmp_path,
            eval_data=tiny_data,
            prebuilt=prebuilt,
        )
    assert not tmp_path.joinpath("export_report.md").exists()
