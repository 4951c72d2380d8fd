"""kd-train on the user's own folders: labeled class folders, a held-out or
given validation folder, unlabeled images, a keras.applications or .keras
student; class names reach the report."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from kd_toolkit import recipes
from kd_toolkit.recipes.run_data import RunData
from tests.data.image_files import write_image


def _folder(root, per_class, seed, size=(16, 16), labeled=True):
    """Images whose class shows in their brightness, so a model can learn
    it: class 0 dark, class 1 bright."""
    rng = np.random.default_rng(seed)
    for label, name in enumerate(("dark", "bright")):
        for i in range(per_class):
            base = 60 if label == 0 else 190
            image = np.clip(rng.normal(base, 30, (*size, 3)), 0, 255).astype(
                np.uint8
            )
            sub = f"{name}/" if labeled else f"part{i % 2}/{name}_"
            write_image(root / f"{sub}{i}.png", image)


def test_run_data_reads_folders_holds_out_and_adds_unlabeled(tmp_path):
    _folder(tmp_path / "train", 10, seed=0)
    _folder(tmp_path / "extra", 4, seed=1, labeled=False)
    cfg = recipes.DistillConfig(
        data_dir=str(tmp_path / "train"),
        unlabeled_dir=str(tmp_path / "extra"),
        image_size=(8, 8),
        batch_size=5,
    )
    run = RunData(cfg)
    assert run.info.class_names == ("bright", "dark")
    assert (run.info.num_train, run.info.num_test) == (18, 2)
    assert run.info.num_unlabeled == 8 and run.num_distill_train == 26
    x, y = run.train_arrays(unlabeled=True)
    assert x.shape == (26, 8, 8, 3) and (y == -1).sum() == 8
    labels = np.concatenate([b[1] for b in run.train(0, unlabeled=True)])
    assert sorted(labels.tolist()) == sorted(y.tolist())
    test = np.concatenate([b[1] for b in run.test()])
    assert len(test) == 2 and (test >= 0).all()


@pytest.mark.slow
def test_kd_train_on_folders_end_to_end(tmp_path):
    _folder(tmp_path / "train", 24, seed=0)
    _folder(tmp_path / "val", 6, seed=1)
    _folder(tmp_path / "unlabeled", 12, seed=2, labeled=False)
    student = tmp_path / "student.keras"
    inputs = keras.Input((32, 32, 3))
    h = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    keras.Model(inputs, keras.layers.Dense(2, name="logits")(h)).save(student)
    out = tmp_path / "run"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kd_toolkit.train",
            f"--data_dir={tmp_path / 'train'}",
            f"--val_dir={tmp_path / 'val'}",
            f"--unlabeled_dir={tmp_path / 'unlabeled'}",
            "--image_size=32,32",
            "--teacher=MobileNetV3Small",
            "--teacher_kwargs=alpha=0.75,minimalistic=True",
            "--teacher_epochs=1",
            f"--student={student}",
            "--epochs=1",
            "--batch_size=16",
            "--cache_draws=2",
            "--cache_top_k=1",
            "--cache_workers=2",
            "--cache_teacher_dtype=float32",
            "--verbose=0",
            f"--out_dir={out}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["class_names"] == ["bright", "dark"]
    assert report["train_images"] == 48 and report["unlabeled_images"] == 24
    assert report["test_images"] == 12
    assert "Classes (2): bright, dark." in result.stdout
    assert "(+ 24 unlabeled)" in result.stdout
    assert (out / "student.keras").exists()
    # Folders go through the sharded, streaming cache.
    assert report["teacher_cache"]["draws"] == 2
    assert report["teacher_cache"]["sharded"]
    (manifest,) = (tmp_path / "run").glob("*.shards/manifest.json")
    key = json.loads(manifest.read_text())["key"]
    assert key["top_k"] == 1 and key["teacher_dtype"] == "float32"
    # The worker processes built each shard once.
    assert result.stdout.count("sharded cache: shard 0 ") == 1
