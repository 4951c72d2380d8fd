"""One formatter and one linter for the whole tree: ruff, configured in
ruff.toml (`ruff format` then `ruff check` fix what these tests report)."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _ruff(*args):
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, str(ROOT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_tree_is_formatted():
    result = _ruff("format", "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_tree_passes_the_linter():
    result = _ruff("check")
    assert result.returncode == 0, result.stdout + result.stderr
