"""benchmarks/run_v3.sh's scheduling: every planned run once, the cache
built first, finished runs skipped, a second invocation adding workers.

The script's Python command is replaced by a recorder that writes each run
file (what is tested here is the shell's queue and locks; the benchmark's
own runs are tested in test_accuracy_quick.py).
"""

import collections
import os
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "run_v3.sh"

# Stands for `python -m benchmarks.accuracy ...`: appends its flags to a log
# and, for a training run, writes that run's file after a short while.
RECORDER = """#!/usr/bin/env bash
set -euo pipefail
tag= method= seed= kind=run
for arg in "$@"; do
  case "$arg" in
    --tag=*) tag="${arg#--tag=}" ;;
    --methods=*) method="${arg#--methods=}" ;;
    --seeds=*) seed="${arg#--seeds=}" ;;
    --cache_only) kind=cache ;;
    --aggregate_only) kind=aggregate ;;
  esac
done
echo "$kind $tag $method $seed" >> "$LOG"
if [[ "$kind" == run ]]; then
  sleep 0.3
  mkdir -p "$RUNS/$tag"
  echo '{}' > "$RUNS/$tag/$method-seed$seed.json"
fi
"""


def _env(tmp_path):
    python = tmp_path / "python"
    python.write_text(RECORDER)
    python.chmod(0o755)
    return {
        **os.environ,
        "PYTHON": str(python),
        "RUNS": str(tmp_path / "runs"),
        "LOCKS": str(tmp_path / "locks"),
        "LOG": str(tmp_path / "log"),
    }


def _log(tmp_path):
    return [
        line.split()
        for line in (tmp_path / "log").read_text().split("\n")
        if line
    ]


def _planned():
    # What the script's header plans: 5 seeds of three methods and 3 of
    # three more at 1,000 labels; 3 seeds of two methods for the others.
    runs = {
        ("v3_n1000", m, str(s))
        for m in ("alone", "kd", "ama_cached")
        for s in range(5)
    }
    runs |= {
        ("v3_n1000", m, str(s))
        for m in ("dkd", "fitnets", "ama")
        for s in range(3)
    }
    runs |= {
        (t, m, str(s))
        for t in ("v3_n6000", "v3_gap")
        for m in ("alone", "kd")
        for s in range(3)
    }
    return runs


def test_two_invocations_share_the_queue_and_run_each_run_once(tmp_path):
    env = _env(tmp_path)
    # Two runs finished before: they are skipped.
    (tmp_path / "runs" / "v3_n1000").mkdir(parents=True)
    for done in ("alone-seed0.json", "kd-seed0.json"):
        (tmp_path / "runs" / "v3_n1000" / done).write_text("{}")
    procs = [
        subprocess.Popen(["bash", str(SCRIPT)], env={**env, "JOBS": jobs})
        for jobs in ("2", "1")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    log = _log(tmp_path)
    runs = [tuple(row[1:4]) for row in log if row[0] == "run"]
    counts = collections.Counter(runs)
    assert set(counts) == _planned() - {
        ("v3_n1000", "alone", "0"),
        ("v3_n1000", "kd", "0"),
    }
    assert max(counts.values()) == 1, counts.most_common(3)
    # Each invocation built (or found) the cache before any of its runs.
    caches = [i for i, row in enumerate(log) if row[0] == "cache"]
    assert len(caches) == 2 and caches[0] == 0
    # Each finished run rebuilt its protocol's table.
    assert sum(row[0] == "aggregate" for row in log) == len(runs)


def test_a_stop_file_starts_no_new_run(tmp_path):
    env = _env(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / ".stop_v3").write_text("")
    subprocess.run(["bash", str(SCRIPT)], env=env, check=True, timeout=60)
    assert [row[0] for row in _log(tmp_path)] == ["cache"]
