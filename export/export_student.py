"""Export and verify a student: a thin entry point to `kd-export`.

The command line lives in `kd_toolkit/cli/export.py` (installed as the
`kd-export` console script); this file keeps `python export/export_student.py`
working. `--help` lists every flag with its default.
"""

from kd_toolkit.cli.export import run

if __name__ == "__main__":
    run()
