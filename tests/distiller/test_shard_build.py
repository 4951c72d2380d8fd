"""Building a sharded cache: worker processes, racing builders, a SIGKILL
midway, and the teacher's bfloat16 inference."""

import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

import keras
import numpy as np
import pytest

from kd_toolkit.distiller import shard_build
from kd_toolkit.distiller import teacher_dtype
from kd_toolkit.distiller.cache_files import StaleCacheError
from kd_toolkit.distiller.sharded_cache import ShardedTeacherCache
from tests.distiller.test_sharded_cache import SPEC
from tests.distiller.test_sharded_cache import _build
from tests.distiller.test_sharded_cache import _folder
from tests.distiller.test_sharded_cache import _teacher

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _hashes(cache):
    return [s["sha256"] for s in cache.manifest["shards"]]


def _sleeper():
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"]
    )


@pytest.mark.slow
def test_worker_processes_build_the_same_store(tmp_path):
    folder, teacher = _folder(tmp_path / "img"), _teacher()
    one = _build(tmp_path / "one", teacher, folder, shard_size=4)
    two = _build(tmp_path / "two", teacher, folder, shard_size=4, num_workers=2)
    assert len(two.manifest["shards"]) == 6
    np.testing.assert_allclose(
        two.logits(np.arange(23), np.full(23, 2)),
        one.logits(np.arange(23), np.full(23, 2)),
        rtol=1e-6,
        atol=1e-6,
    )
    # The saved teacher and every claim are gone.
    left = {p.name for p in (tmp_path / "two").iterdir()}
    assert not [n for n in left if n.endswith((".keras", ".lock", ".tmp"))]


def test_a_builder_waits_for_a_shard_another_holds_then_takes_it_over(
    tmp_path,
):
    folder, teacher = _folder(tmp_path / "img"), _teacher()
    store = tmp_path / "cache"
    store.mkdir()
    other = _sleeper()  # a live builder holding shard 1
    (store / "shard-00001.lock").write_text(str(other.pid))
    result = {}

    def build():
        result["cache"] = _build(store, teacher, folder, verbose=True)

    thread = threading.Thread(target=build)
    try:
        thread.start()
        deadline = time.monotonic() + 60
        while not (store / "shard-00002.json").exists():
            assert time.monotonic() < deadline, "shards 0 and 2 not built"
            time.sleep(0.05)
        time.sleep(1.0)
        # Shard 1 is the other builder's: not built, and the builder waits.
        assert not (store / "shard-00001.json").exists()
        assert thread.is_alive()
    finally:
        other.kill()
        other.wait()
    thread.join(60)  # its claimant gone, the claim is taken over
    assert not thread.is_alive()
    fresh = _build(tmp_path / "fresh", teacher, folder)
    assert _hashes(result["cache"]) == _hashes(fresh)
    assert not list(store.glob("*.lock"))


def test_a_shard_another_builder_finishes_is_not_built_twice(
    tmp_path, monkeypatch
):
    folder, teacher = _folder(tmp_path / "img"), _teacher()
    store = tmp_path / "cache"
    store.mkdir()
    other = _sleeper()
    lock = store / "shard-00001.lock"
    lock.write_text(str(other.pid))
    built = []
    real = shard_build.build_shard

    def counting(directory, index, *args):
        built.append(index)
        return real(directory, index, *args)

    monkeypatch.setattr(shard_build, "build_shard", counting)
    result = {}
    thread = threading.Thread(
        target=lambda: result.setdefault(
            "cache", _build(store, teacher, folder)
        )
    )
    try:
        thread.start()
        while built != [0, 2]:
            time.sleep(0.05)
        # The other builder writes shard 1 and lets go of its claim.
        key = shard_build.make_key(
            teacher, folder, SPEC, 3, 0, None, 10, "float32"
        )
        infer = shard_build._Builder(store, key, folder, 256, False, teacher)
        real(store, 1, 10, 20, key, folder, infer.infer(), 256)
        lock.unlink()
        thread.join(60)
    finally:
        other.kill()
        other.wait()
    assert built == [0, 2]
    assert _hashes(result["cache"]) == _hashes(
        _build(tmp_path / "fresh", teacher, folder)
    )


_KILLED_BUILD = """
import sys, time
import keras
from kd_toolkit import data
from kd_toolkit.distiller import shard_build
from kd_toolkit.distiller.sharded_cache import ShardedTeacherCache
real = shard_build.build_shard
def slow(directory, index, *args):
    if index == 1:  # half-written: a temporary file, then the kill
        (directory / ".shard-00001.values.npy.x.tmp").write_bytes(b"half")
        print("shard 1 started", flush=True)
        time.sleep(60)
    return real(directory, index, *args)
shard_build.build_shard = slow
folder = data.ImageFolder(sys.argv[1], (8, 8))
teacher = keras.models.load_model(sys.argv[2], compile=False)
ShardedTeacherCache.get_or_build(
    sys.argv[3], teacher, folder, augment=data.AugmentSpec(pad=2, flip=True),
    draws=3, shard_size=10, teacher_dtype="float32", verbose=False)
"""


@pytest.mark.slow
def test_a_sigkilled_build_resumes_at_its_missing_shards(tmp_path, monkeypatch):
    folder, teacher = _folder(tmp_path / "img"), _teacher()
    teacher.save(tmp_path / "teacher.keras")
    store = tmp_path / "cache"
    build = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _KILLED_BUILD,
            str(tmp_path / "img"),
            str(tmp_path / "teacher.keras"),
            str(store),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    try:
        assert build.stdout.readline().strip() == "shard 1 started"
        os.kill(build.pid, signal.SIGKILL)
    finally:
        build.kill()
        build.wait()
    assert (store / "shard-00000.json").exists()
    assert (store / "shard-00001.lock").exists()  # the dead builder's
    assert not (store / "manifest.json").exists()
    redone = []
    real = shard_build.build_shard

    def counting(directory, index, *args):
        redone.append(index)
        return real(directory, index, *args)

    monkeypatch.setattr(shard_build, "build_shard", counting)
    resumed = _build(store, teacher, folder)
    assert redone == [1, 2]
    assert not list(store.glob("*.tmp")) and not list(store.glob("*.lock"))
    fresh = _build(tmp_path / "fresh", teacher, folder)
    assert _hashes(resumed) == _hashes(fresh)  # bit for bit


def test_bfloat16_inference_is_close_and_part_of_the_key(tmp_path):
    folder, teacher = _folder(tmp_path / "img"), _teacher()
    f32 = _build(tmp_path / "cache", teacher, folder)
    assert f32.manifest["key"]["teacher_dtype"] == "float32"
    with pytest.raises(StaleCacheError, match="teacher_dtype: cache has"):
        _build(tmp_path / "cache", teacher, folder, teacher_dtype="bfloat16")
    bf16 = _build(tmp_path / "bf16", teacher, folder, teacher_dtype="bfloat16")
    ids, draws = np.arange(23), np.zeros(23, int)
    a, b = f32.logits(ids, draws), bf16.logits(ids, draws)
    assert not np.array_equal(a, b)  # computed in bfloat16 indeed
    np.testing.assert_allclose(b, a, atol=0.05 * np.abs(a).max())


def test_auto_chooses_bfloat16_only_where_it_is_native_and_possible(
    monkeypatch,
):
    assert teacher_dtype.bfloat16_is_native({"avx512f", "amx_bf16"})
    assert teacher_dtype.bfloat16_is_native({"avx512_bf16"})
    assert not teacher_dtype.bfloat16_is_native({"avx2", "avx512f"})
    functional = _teacher()
    monkeypatch.setattr(
        teacher_dtype.cpu, "cpu_flags", lambda: frozenset({"amx_bf16"})
    )
    assert teacher_dtype.resolve("auto", functional) == "bfloat16"
    monkeypatch.setattr(
        teacher_dtype.cpu, "cpu_flags", lambda: frozenset({"avx2"})
    )
    assert teacher_dtype.resolve("auto", functional) == "float32"

    class Sub(keras.Model):
        def call(self, x):
            return x

    assert teacher_dtype.resolve("auto", Sub()) == "float32"
    with pytest.raises(ValueError, match="subclassed Sub"):
        teacher_dtype.resolve("bfloat16", Sub())
    with pytest.raises(ValueError, match="Received: teacher_dtype='half'"):
        teacher_dtype.resolve("half", functional)


def test_bad_worker_counts_are_refused(tmp_path):
    folder, teacher = _folder(tmp_path / "img"), _teacher()
    with pytest.raises(ValueError, match="num_workers"):
        ShardedTeacherCache.get_or_build(
            tmp_path / "c", teacher, folder, num_workers=0, verbose=False
        )
