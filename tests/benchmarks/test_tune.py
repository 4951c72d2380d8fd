"""The declared validation sweeps: every run's flags exist, tags are
unique, and the command line prints, refuses and lists as documented."""

import subprocess
import sys

import pytest

from benchmarks import tune


def test_tags_are_unique_and_tuned_runs_keep_the_protocol():
    tags = [run.tag for runs in tune.SWEEPS.values() for run in runs]
    assert len(tags) == len(set(tags)) and all(
        t.startswith("tune_") for t in tags
    )
    (first, *_) = tune.commands("kd", ["--seeds=0"], python="py")
    assert first[:3] == ["py", "-m", "benchmarks.accuracy"]
    assert "--tune" in first and first[-2:] == [
        "--tag=tune_kd_alone",
        "--seeds=0",
    ]
    # A run's own setting comes after the protocol's, so absl keeps it.
    t2 = [
        c for c in tune.commands("ama_cached_weights") if c[-1].endswith("_t2")
    ]
    (command,) = t2
    assert command.index("--temperature=2") > command.index("--temperature=1")


def test_every_flag_of_every_run_is_a_flag_of_the_accuracy_benchmark():
    # In a subprocess: defining the benchmark's flags is global.
    script = (
        "from absl import flags\n"
        "from benchmarks import accuracy, tune\n"
        "accuracy.define_flags()\n"
        "known = set(flags.FLAGS)\n"
        "used = {a[2:].split('=')[0] for runs in tune.SWEEPS.values()\n"
        "        for r in runs for a in (*tune.PROTOCOL, *r.flags)}\n"
        "print(sorted(used - known))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stderr[-2000:]


def test_unknown_sweep_lists_the_sweeps():
    with pytest.raises(ValueError, match=r"Expected one of \['ama_cached'"):
        tune.commands("kd_sweep")


def test_command_line_dry_run_and_list(capsys):
    assert tune.main(["relational", "--dry_run"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(tune.SWEEPS["relational"])
    assert all("benchmarks.accuracy --tune" in line for line in lines)
    assert tune.main(["--list"]) == 0
    assert "ama_cached_weights" in capsys.readouterr().out
    assert tune.main(["nope"]) == 2
    assert "Received: sweep='nope'" in capsys.readouterr().err
