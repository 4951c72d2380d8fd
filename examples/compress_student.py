"""Prune and quantize a distilled student: a thin entry point to
`kd-compress`.

The command line lives in `kd_toolkit/cli/compress.py` (installed as the
`kd-compress` console script); this file keeps
`python examples/compress_student.py` working. `--help` lists every flag
with its default.
"""

from kd_toolkit.cli.compress import run

if __name__ == "__main__":
    run()
