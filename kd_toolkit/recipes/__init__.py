"""End-to-end recipes used by the command lines, `make demo` and the
benchmarks: the method registry (`methods`), shared training blocks
(`training`) and the distillation run (`distill`)."""

from kd_toolkit.recipes import methods
from kd_toolkit.recipes import training
from kd_toolkit.recipes.distill import DistillConfig
from kd_toolkit.recipes.distill import run_distillation
from kd_toolkit.recipes.methods import AMASettings
from kd_toolkit.recipes.methods import Method
from kd_toolkit.recipes.methods import MethodSettings
from kd_toolkit.recipes.methods import Plan
from kd_toolkit.recipes.report import write_report

__all__ = [
    "AMASettings",
    "DistillConfig",
    "Method",
    "MethodSettings",
    "Plan",
    "methods",
    "run_distillation",
    "training",
    "write_report",
]
