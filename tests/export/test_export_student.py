"""End-to-end runs of the `export/export_student.py` command line."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "export" / "export_student.py"
QUICK = [
    "--eval_limit",
    "1000",
    "--representative_samples",
    "50",
    "--latency_runs",
    "20",
    "--latency_warmup",
    "2",
]


def _run(*args):
    env = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONPATH=os.pathsep.join(
            [str(ROOT), os.environ.get("PYTHONPATH", "")]
        ),
    )
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def student_file(fashion_student, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "student.keras"
    fashion_student[0].save(path)
    return path


@pytest.mark.slow
def test_cli_end_to_end(student_file, tmp_path):
    out_dir = tmp_path / "artifacts"
    common = [
        "--model",
        str(student_file),
        "--dataset",
        "fashion_mnist",
        "--out_dir",
        str(out_dir),
        *QUICK,
    ]
    result = _run(*common, "--formats", "tflite_float32,tflite_int8,onnx")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "| tflite_int8 |" in result.stdout and "overall: PASS" in result.stdout
    )
    report = json.loads((out_dir / "export_report.json").read_text())
    assert report["passed"] and report["num_eval_samples"] == 1000
    assert [a["format"] for a in report["artifacts"]] == [
        "tflite_float32",
        "tflite_int8",
        "onnx",
    ]
    assert (out_dir / "simple_cnn_tflite_int8.tflite").is_file()
    card = json.loads((out_dir / "model_card.json").read_text())
    assert card["output"]["kind"] == "logits"
    assert card["output"]["classes"][0] == "T-shirt/top"
    assert "Model card: " in result.stdout

    # A second run into the same directory refuses to overwrite...
    impossible = ["--formats", "tflite_int8", "--max_size_ratio", "0.05"]
    result = _run(*common, *impossible)
    assert result.returncode == 2
    assert "Refusing to overwrite" in result.stderr
    assert "simple_cnn_tflite_int8.tflite" in result.stderr

    # ...and with --overwrite, an unreachable threshold makes it fail.
    result = _run(*common, *impossible, "--overwrite")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED formats: tflite_int8" in result.stderr
    assert "FAIL: size_ratio" in result.stdout
    assert (out_dir / "simple_cnn_tflite_int8.tflite.failed").is_file()
    assert not (out_dir / "simple_cnn_tflite_int8.tflite").exists()
    report = json.loads((out_dir / "export_report.json").read_text())
    assert report["passed"] is False


def test_corrupt_model_file_is_named_as_corrupt(tmp_path):
    corrupt = tmp_path / "student.keras"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip archive")
    result = _run(
        "--model",
        str(corrupt),
        "--dataset",
        "fashion_mnist",
        "--out_dir",
        str(tmp_path / "out"),
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "not a `.keras` archive" in result.stderr
    assert "File not found" not in result.stderr
    assert "Traceback" not in result.stderr
    assert [
        line for line in result.stderr.splitlines() if line.startswith("error:")
    ] == [line for line in result.stderr.splitlines() if "archive" in line]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_cli_exports_the_student_of_a_saved_distiller_on_its_dataset(
    fashion_student, tmp_path
):
    """A saved Distiller (what ModelCheckpoint writes) exports its student;
    without --dataset the command line picks the dataset that fits and
    says so; the size bound follows the student's size."""
    import keras

    import kd_toolkit as kd

    student = fashion_student[0]
    teacher = keras.models.clone_model(student)
    teacher.set_weights(student.get_weights())
    path = tmp_path / "distiller.keras"
    kd.Distiller(teacher, student).save(path)
    out_dir = tmp_path / "out"
    result = _run(
        "--model",
        str(path),
        "--out_dir",
        str(out_dir),
        "--formats",
        "tflite_float32,tflite_int8",
        *QUICK,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "exporting its student" in result.stdout
    assert "--dataset not given: verifying on fashion_mnist" in result.stdout
    report = json.loads((out_dir / "export_report.json").read_text())
    assert report["model_name"] == student.name
    assert report["size_basis"].startswith("weights (auto: ")


@pytest.mark.slow
def test_cli_without_dataset_refuses_a_model_no_dataset_fits(tmp_path):
    import keras

    inputs = keras.Input((20, 20, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    path = tmp_path / "odd.keras"
    keras.Model(inputs, keras.layers.Dense(7)(x)).save(path)
    result = _run("--model", str(path), "--out_dir", str(tmp_path / "o"))
    assert result.returncode == 2, result.stderr[-3000:]
    errors = [
        line for line in result.stderr.splitlines() if line.startswith("error:")
    ]
    assert len(errors) == 1
    assert (
        "--dataset is needed: the model takes images of shape (20, 20, 3) "
        "and outputs 7 classes, and no dataset" in errors[0]
    )
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_cli_verifies_on_a_folder_of_your_own_images(tmp_path):
    """--data_dir: the user's images, resized to the model's input; the
    class names from the folders reach the model card."""
    import keras
    import numpy as np

    from tests.data.image_files import write_image

    rng = np.random.default_rng(0)
    for label, name in enumerate(("dark", "bright")):
        for i in range(12):
            base = 60 if label == 0 else 190
            image = np.clip(rng.normal(base, 30, (20, 20, 3)), 0, 255)
            write_image(
                tmp_path / "val" / name / f"{i}.png", image.astype("uint8")
            )
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    h = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    path = tmp_path / "student.keras"
    keras.Model(inputs, keras.layers.Dense(2, name="logits")(h)).save(path)
    out_dir = tmp_path / "out"
    result = _run(
        "--model",
        str(path),
        "--data_dir",
        str(tmp_path / "val"),
        "--out_dir",
        str(out_dir),
        "--formats",
        "tflite_float32,tflite_int8",
        "--representative_samples",
        "16",
        "--latency_runs",
        "5",
        "--latency_warmup",
        "1",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out_dir / "export_report.json").read_text())
    assert report["num_eval_samples"] == 24
    card = json.loads((out_dir / "model_card.json").read_text())
    assert "bright" in json.dumps(card) and "dark" in json.dumps(card)
    wrong = _run(
        "--model",
        str(path),
        "--data_dir",
        str(tmp_path / "val" / "dark"),
        "--out_dir",
        str(tmp_path / "o2"),
    )
    assert wrong.returncode == 2
    assert "one subfolder per class" in wrong.stderr
