import pathlib
import subprocess
import sys

import keras
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_distill_example_quick_run_saves_a_loadable_student(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "distill_fashion_mnist.py"),
            "--quick",
            f"--out_dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "distilled student top-1" in result.stdout
    student = keras.models.load_model(tmp_path / "student.keras")
    assert student.output_shape == (None, 10)
    assert (tmp_path / "teacher.train1024.logits.npz").is_file()
