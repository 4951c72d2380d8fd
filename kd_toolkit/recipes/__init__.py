"""End-to-end recipes used by the command lines and `make demo`."""

from kd_toolkit.recipes.distill import METHODS
from kd_toolkit.recipes.distill import DistillConfig
from kd_toolkit.recipes.distill import method_losses
from kd_toolkit.recipes.distill import run_distillation
from kd_toolkit.recipes.report import write_report
