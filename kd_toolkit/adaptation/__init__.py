"""Activation map adaptation of a teacher (Wu et al., arXiv 2010.13500).

Our formalization (see `docs/adaptation.md`): trainable adapters replace
runs of teacher blocks between two cuts of the graph; the adapted teacher's
activation maps supervise the student through the
`kd_toolkit.losses.ActivationMapAdaptation` loss.

- `find_cuts(model, blocks_only=False)`: the cuts where a replacement may
  start or end, block boundaries marked, printable grouped by resolution.
- `propose_layer_pairs(teacher, student)`: (teacher, student) layers at
  matching resolutions, for feature losses and AMA.
- `Replacement(start, end, student_layer)`: what to replace.
- `adapt_teacher(teacher, replacements)`: graph surgery, returns an
  `AdaptedTeacher` (`.model` goes to the `Distiller`, `.cost()`).
- `warm_up(adapted, data, steps)`: fit the adapters to the blocks they
  replace before distillation.
- `model_cost(model)`: parameters and MACs per image of a model.
- `ActivationMapAdapter`, `FrozenLayer`: the layers the surgery inserts.
"""

from kd_toolkit.adaptation.adapter import ActivationMapAdapter
from kd_toolkit.adaptation.adapter import adapter_for_shapes
from kd_toolkit.adaptation.adapter import infer_strides
from kd_toolkit.adaptation.cost import CostComparison
from kd_toolkit.adaptation.cost import CostReport
from kd_toolkit.adaptation.cost import LayerCost
from kd_toolkit.adaptation.cost import layer_macs
from kd_toolkit.adaptation.cost import model_cost
from kd_toolkit.adaptation.frozen_layer import FrozenLayer
from kd_toolkit.adaptation.graph import Cut
from kd_toolkit.adaptation.graph import CutTable
from kd_toolkit.adaptation.graph import find_cuts
from kd_toolkit.adaptation.layer_pairs import LayerPair
from kd_toolkit.adaptation.layer_pairs import LayerPairs
from kd_toolkit.adaptation.layer_pairs import propose_layer_pairs
from kd_toolkit.adaptation.replacement import Replacement
from kd_toolkit.adaptation.surgery import AdaptedTeacher
from kd_toolkit.adaptation.surgery import adapt_teacher
from kd_toolkit.adaptation.warm_up import WarmUpReport
from kd_toolkit.adaptation.warm_up import warm_up

__all__ = [
    "ActivationMapAdapter",
    "AdaptedTeacher",
    "CostComparison",
    "CostReport",
    "Cut",
    "CutTable",
    "FrozenLayer",
    "LayerCost",
    "LayerPair",
    "LayerPairs",
    "Replacement",
    "WarmUpReport",
    "adapt_teacher",
    "adapter_for_shapes",
    "find_cuts",
    "infer_strides",
    "layer_macs",
    "model_cost",
    "propose_layer_pairs",
    "warm_up",
]
