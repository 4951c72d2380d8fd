"""Distillation losses, one file per method."""

from kd_toolkit.losses.activation_map_adaptation import ActivationMapAdaptation
from kd_toolkit.losses.attention_transfer import AttentionTransfer
from kd_toolkit.losses.base import DistillationLoss
from kd_toolkit.losses.base import LossInputs
from kd_toolkit.losses.crd import CRD
from kd_toolkit.losses.dkd import DKD
from kd_toolkit.losses.hint import Hint
from kd_toolkit.losses.kd import KD
from kd_toolkit.losses.loss_registry import get
from kd_toolkit.losses.loss_registry import get_class
from kd_toolkit.losses.loss_registry import names
from kd_toolkit.losses.loss_registry import register
from kd_toolkit.losses.pkt import PKT
from kd_toolkit.losses.review_kd import ReviewKD
from kd_toolkit.losses.rkd import RKD
from kd_toolkit.losses.similarity_preserving import SimilarityPreserving

__all__ = [
    "CRD",
    "DKD",
    "KD",
    "PKT",
    "RKD",
    "ActivationMapAdaptation",
    "AttentionTransfer",
    "DistillationLoss",
    "Hint",
    "LossInputs",
    "ReviewKD",
    "SimilarityPreserving",
    "get",
    "get_class",
    "names",
    "register",
]
