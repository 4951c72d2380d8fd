"""Every flag of the four command lines, given a bad value, ends the
command with one `error:` line that names the flag, and exit status 2.

The driver (`tests/cli/bad_flags_driver.py`) adds a bad value for every
typed flag by itself (a word for a number, values past its bounds, an
unknown enum choice, a non-boolean); string flags need a case here or a
reason in `NO_BAD_VALUE`, so a new flag cannot go unchecked. The base
arguments keep a case that slipped through small enough to end quickly
(and fail the test).
"""

import json
import subprocess
import sys

import keras
import pytest

NO_BAD_VALUE = {
    "out_dir": "any directory is created",
    "basename": "any file stem is valid",
}


def _tiny_model(path):
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(4, 3, strides=4, name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    keras.Model(inputs, keras.layers.Dense(10, name="logits")(x)).save(path)
    return path


def _specs(tmp):
    model = _tiny_model(tmp / "tiny.keras")
    missing = tmp / "missing.keras"
    not_keras = tmp / "notes.txt"
    not_keras.write_text("not a model")
    quick_train = [
        "--train_limit=64",
        "--test_limit=64",
        "--epochs=1",
        "--teacher_epochs=1",
        "--nobaseline",
        "--batch_size=32",
        "--verbose=0",
        f"--out_dir={tmp / 'train'}",
    ]
    quick_export = [
        f"--model={model}",
        f"--out_dir={tmp / 'export'}",
        "--formats=tflite_float32",
        "--eval_limit=32",
        "--latency_runs=2",
        "--latency_warmup=1",
        "--representative_samples=8",
        "--nomodel_card",
    ]
    quick_compress = [
        f"--student={model}",
        f"--out_dir={tmp / 'compress'}",
        "--methods=ptq_int8",
        "--train_limit=64",
        "--eval_limit=32",
        "--latency_runs=2",
        "--representative_samples=8",
    ]
    thresholds = [
        "max_abs_diff",
        "min_top1_agreement",
        "min_confident_agreement",
        "max_accuracy_drop",
        "max_size_ratio",
        "max_weights_ratio",
    ]
    return {
        "kd_toolkit.cli.train": {
            "base_args": quick_train,
            "cases": [
                ["dataset", ["--dataset=nope"]],
                ["teacher", ["--teacher=nope"]],
                ["student", ["--student=nope"]],
                ["method", ["--method=nope"]],
                ["pretrained_teacher", ["--pretrained_teacher=nope"]],
                ["teacher_path", [f"--teacher_path={not_keras}"]],
                ["data_dir", [f"--data_dir={tmp / 'no_such_dir'}"]],
                ["val_dir", [f"--val_dir={tmp / 'no_such_dir'}"]],
                ["unlabeled_dir", [f"--unlabeled_dir={tmp / 'no_such_dir'}"]],
                ["image_size", ["--image_size=8,x"]],
                ["image_size 3 values", ["--image_size=8,8,3"]],
                ["student_kwargs", ["--student_kwargs=alpha"]],
                ["teacher_kwargs", ["--teacher_kwargs=,"]],
                ["student file", [f"--student={not_keras}"]],
            ],
        },
        "kd_toolkit.cli.export": {
            "base_args": quick_export,
            "cases": [
                ["model", [f"--model={missing}"]],
                ["data_dir", [f"--data_dir={tmp / 'no_such_dir'}"]],
                [
                    "data_dir with dataset",
                    [f"--data_dir={tmp}", "--dataset=mnist"],
                ],
                ["calibration_dir", [f"--calibration_dir={tmp}"]],
                ["model not keras", [f"--model={not_keras}"]],
                ["dataset", ["--dataset=nope"]],
                ["formats", ["--formats=tflite_float32,nope"]],
                ["latency_threads", ["--report=full", "--latency_threads=x"]],
                *[[n, [f"--{n}=word"]] for n in thresholds],
            ],
        },
        "kd_toolkit.cli.search": {
            "base_args": [
                f"--out_dir={tmp / 'search'}",
                "--train_limit=96",
                "--val_size=32",
                "--epochs=1",
                "--candidate=simple_cnn:filters=(2,)",
            ],
            "cases": [
                ["teacher", ["--teacher=nope"]],
                ["teacher_path", [f"--teacher_path={not_keras}"]],
                ["dataset", ["--dataset=nope"]],
                ["data_dir", [f"--data_dir={tmp / 'no_such_dir'}"]],
                ["val_dir", [f"--val_dir={tmp}"]],
                [
                    "image_size",
                    [
                        f"--data_dir={tmp}",
                        f"--val_dir={tmp}",
                        "--image_size=8,x",
                    ],
                ],
                ["candidate", ["--candidate=nope:base_width=4"]],
                ["method", ["--method=fitnets"]],
                ["format", ["--format=onnx"]],
                ["latency_ms", ["--latency_ms=-1"]],
                ["val_size", ["--val_size=96"]],
                ["refine", ["--refine=ptq_int8"]],
            ],
        },
        "kd_toolkit.cli.compress": {
            "base_args": quick_compress,
            "cases": [
                ["student", [f"--student={missing}"]],
                ["teacher", [f"--teacher={missing}"]],
                ["dataset", ["--dataset=nope"]],
                ["methods", ["--methods=nope"]],
            ],
        },
    }


def _flag_of(case):
    return case.split("=")[0].split(" ")[0]


@pytest.mark.slow
def test_every_flag_with_a_bad_value_is_one_error_line(tmp_path):
    specs = _specs(tmp_path)
    procs = {}
    for module, spec in specs.items():
        cases = tmp_path / f"{module}.cases.json"
        cases.write_text(json.dumps(spec))
        out = tmp_path / f"{module}.out.json"
        procs[module] = (
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.cli.bad_flags_driver",
                    module,
                    str(cases),
                    str(out),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
            out,
        )
    failures = []
    for module, (proc, out) in procs.items():
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]
        report = json.loads(out.read_text())
        covered = {_flag_of(c) for c in report["results"]}
        string_flags = {
            n
            for n, parser in report["flags"].items()
            if parser in ("ArgumentParser", "ListParser")
        }
        unchecked = string_flags - covered - set(NO_BAD_VALUE)
        assert not unchecked, f"{module}: no bad-value case for {unchecked}"
        for case, result in report["results"].items():
            lines = result["stderr"].splitlines()
            errors = [line for line in lines if line.startswith("error:")]
            ok = (
                result["status"] == 2
                and len(errors) == 1
                and "Traceback" not in result["stderr"]
                and _flag_of(case) in errors[0]
            )
            if not ok:
                failures.append(
                    f"{module} {case}: status {result['status']}, "
                    f"stderr {result['stderr'][-600:]!r}"
                )
    assert not failures, "\n".join(failures)
