"""`python -m kd_toolkit.train`: the distillation command line (`kd-train`).

The command line lives in `kd_toolkit/cli/train.py`; this module keeps the
documented `python -m kd_toolkit.train` working.
"""

from kd_toolkit.cli.train import config_from_flags
from kd_toolkit.cli.train import run

__all__ = ["config_from_flags", "run"]

if __name__ == "__main__":
    run()
