"""Pruning and quantization-aware training of Keras 3 students (tfmot).

tensorflow-model-optimization only accepts `tf_keras` (Keras 2) models;
`tf_keras_bridge` rebuilds a Keras 3 functional student in `tf_keras` (and
back) with its weights, verified by output parity. On top of it:

- `prune`: magnitude pruning (polynomial-decay schedule) with KD
  fine-tuning; returns a Keras 3 student.
- `quantize_aware_train`, `qat_to_tflite`, `export_qat_tflite`: QAT with
  KD fine-tuning and full-integer int8 LiteRT export.
- `distill_finetune`: the CE + KD fine-tuning loop for tfmot models.
- `compress_and_compare`: float vs pruned vs QAT vs post-training int8,
  measured in LiteRT, as a Markdown + JSON report.

Install with `pip install 'kd_toolkit[compress]'`.
"""

from kd_toolkit.compress.compare import compress_and_compare
from kd_toolkit.compress.compare import gzipped_size
from kd_toolkit.compress.compression_methods import CompressionMethod
from kd_toolkit.compress.compression_methods import parse_methods
from kd_toolkit.compress.compression_report import CompressionReport
from kd_toolkit.compress.compression_report import CompressionRow
from kd_toolkit.compress.distill_finetune import FinetuneHistory
from kd_toolkit.compress.distill_finetune import distill_finetune
from kd_toolkit.compress.fine_tuning import PRUNE_FINE_TUNING
from kd_toolkit.compress.fine_tuning import QAT_FINE_TUNING
from kd_toolkit.compress.fine_tuning import FineTuning
from kd_toolkit.compress.pruning import PruningResult
from kd_toolkit.compress.pruning import PruningSchedule
from kd_toolkit.compress.pruning import make_schedule
from kd_toolkit.compress.pruning import prune
from kd_toolkit.compress.qat import QatResult
from kd_toolkit.compress.qat import export_qat_tflite
from kd_toolkit.compress.qat import qat_to_tflite
from kd_toolkit.compress.qat import quantize_aware_train
from kd_toolkit.compress.qat import quantize_model
from kd_toolkit.compress.sparsity import SparsityReport
from kd_toolkit.compress.sparsity import sparsity_report
from kd_toolkit.compress.tf_keras_bridge import SUPPORTED_LAYERS
from kd_toolkit.compress.tf_keras_bridge import ParityError
from kd_toolkit.compress.tf_keras_bridge import UnsupportedLayerError
from kd_toolkit.compress.tf_keras_bridge import max_output_difference
from kd_toolkit.compress.tf_keras_bridge import parity
from kd_toolkit.compress.tf_keras_bridge import to_keras3
from kd_toolkit.compress.tf_keras_bridge import to_tf_keras

__all__ = [
    "PRUNE_FINE_TUNING",
    "QAT_FINE_TUNING",
    "SUPPORTED_LAYERS",
    "CompressionMethod",
    "CompressionReport",
    "CompressionRow",
    "FineTuning",
    "FinetuneHistory",
    "ParityError",
    "PruningResult",
    "PruningSchedule",
    "QatResult",
    "SparsityReport",
    "UnsupportedLayerError",
    "compress_and_compare",
    "distill_finetune",
    "export_qat_tflite",
    "gzipped_size",
    "make_schedule",
    "max_output_difference",
    "parity",
    "parse_methods",
    "prune",
    "qat_to_tflite",
    "quantize_aware_train",
    "quantize_model",
    "sparsity_report",
    "to_keras3",
    "to_tf_keras",
]
