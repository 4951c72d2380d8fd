"""End-to-end recipes used by the command lines, `make demo` and the
benchmarks: the method registry (`methods`), shared training blocks
(`training`), the distillation run (`distill`) and the student search
(`student_search`)."""

from kd_toolkit.recipes import methods
from kd_toolkit.recipes import training
from kd_toolkit.recipes.distill import run_distillation
from kd_toolkit.recipes.distill_config import DistillConfig
from kd_toolkit.recipes.distill_report import write_report
from kd_toolkit.recipes.methods import AMASettings
from kd_toolkit.recipes.methods import Method
from kd_toolkit.recipes.methods import MethodSettings
from kd_toolkit.recipes.methods import Plan
from kd_toolkit.recipes.search_space import Budget
from kd_toolkit.recipes.search_space import Candidate
from kd_toolkit.recipes.search_space import default_ladder
from kd_toolkit.recipes.student_search import SearchResult
from kd_toolkit.recipes.student_search import search_students

__all__ = [
    "AMASettings",
    "Budget",
    "Candidate",
    "DistillConfig",
    "Method",
    "MethodSettings",
    "Plan",
    "SearchResult",
    "default_ladder",
    "methods",
    "run_distillation",
    "search_students",
    "training",
    "write_report",
]
