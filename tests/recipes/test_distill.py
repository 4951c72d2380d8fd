import json
import os
import subprocess
import sys

import pytest

from kd_toolkit import recipes


def test_unknown_method_lists_choices():
    cfg = recipes.DistillConfig(method="hinton")
    with pytest.raises(ValueError, match=r"one of \['at', .*'kd'.*\]. "
                       r"Received: method='hinton'"):
        recipes.run_distillation(cfg)


def test_kd_weight_out_of_range():
    with pytest.raises(ValueError, match="Received: kd_weight=1.5"):
        recipes.run_distillation(recipes.DistillConfig(kd_weight=1.5))


@pytest.mark.slow
def test_real_fashion_mnist_distillation_beats_chance(tmp_path):
    cfg = recipes.DistillConfig(
        teacher="simple_cnn", student="simple_cnn", student_width=None,
        teacher_epochs=4, epochs=2, train_limit=6000, test_limit=1000,
        method="at", out_dir=str(tmp_path), verbose=0)
    report = recipes.run_distillation(cfg)
    # 10 classes: chance is 0.10; these are a few hundred steps of
    # training, so the bar is "clearly better than chance", not "good".
    assert report["teacher"]["test_accuracy"] > 0.6
    assert report["student_alone"]["test_accuracy"] > 0.45
    assert report["distilled"]["test_accuracy"] > 0.45
    logs = report["distilled"]["final_logs"]
    assert {"kd_loss", "at_loss", "student_loss"} <= set(logs)
    assert os.path.exists(tmp_path / "student.keras")
    assert os.path.exists(tmp_path / "teacher.keras")
    json_path, md_path = recipes.write_report(report, str(tmp_path))
    with open(md_path) as f:
        assert "| student + at |" in f.read()
    with open(json_path) as f:
        assert json.load(f)["test_images"] == 1000


@pytest.mark.slow
def test_command_line_end_to_end_reuses_the_cached_teacher(tmp_path):
    args = [sys.executable, "-m", "kd_toolkit.train", "--teacher=simple_cnn",
            "--student=simple_cnn", "--student_width=0", "--teacher_epochs=1",
            "--epochs=1", "--train_limit=512", "--test_limit=256",
            "--nobaseline", f"--out_dir={tmp_path}", "--verbose=0"]
    first = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "| student + kd |" in first.stdout
    second = subprocess.run(args, capture_output=True, text=True,
                            timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "loading cached teacher" in second.stdout
    with open(tmp_path / "report.json") as f:
        report = json.load(f)
    assert report["teacher"]["epochs"] is None  # loaded, not trained


def test_command_line_rejects_unknown_method(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "kd_toolkit.train", "--method=nope",
         f"--out_dir={tmp_path}"], capture_output=True, text=True,
        timeout=120)
    assert result.returncode != 0
    assert "Received: method='nope'" in result.stderr
