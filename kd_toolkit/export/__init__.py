"""Export a Keras 3 student to LiteRT/TFLite and ONNX, and verify it.

Every artifact is run in its real runtime (the LiteRT interpreter from
`ai_edge_litert`, onnxruntime) and compared with the Keras model: output
differences, cosine similarity, top-1 agreement, accuracy, size and
single-image latency, against the acceptance thresholds of the design.
On request the report adds what shipping needs: a latency table (threads,
XNNPACK on/off), the microcontroller fit (TFLM tensor arena and flash), the
per-layer int8 error and an Edge TPU readiness check.

The heavy runtimes (tf2onnx, onnxruntime, ai_edge_litert) are imported only
when used; install them with `pip install kd_toolkit[export]`.
"""

from kd_toolkit.export.artifact_format import ArtifactFormat
from kd_toolkit.export.artifact_format import Runtime
from kd_toolkit.export.artifact_format import format_names
from kd_toolkit.export.artifact_format import get_format
from kd_toolkit.export.artifact_format import parse_formats
from kd_toolkit.export.deployment import DeploymentChecks
from kd_toolkit.export.deployment import deployment_checks
from kd_toolkit.export.edgetpu_check import EdgeTpuCheck
from kd_toolkit.export.edgetpu_check import edgetpu_check
from kd_toolkit.export.export_options import Conversion
from kd_toolkit.export.export_options import ExtraChecks
from kd_toolkit.export.export_options import Timing
from kd_toolkit.export.export_report import ExportReport
from kd_toolkit.export.latency import LatencyStats
from kd_toolkit.export.latency import measure_latency
from kd_toolkit.export.latency_table import LatencyRow
from kd_toolkit.export.latency_table import latency_table
from kd_toolkit.export.layer_error import LayerError
from kd_toolkit.export.layer_error import layer_errors
from kd_toolkit.export.micro import MicroFit
from kd_toolkit.export.micro import estimate_arena_bytes
from kd_toolkit.export.micro import micro_fit
from kd_toolkit.export.micro import minimal_arena_bytes
from kd_toolkit.export.model_card import write_model_card
from kd_toolkit.export.onnx_export import convert_to_onnx
from kd_toolkit.export.onnx_export import export_onnx
from kd_toolkit.export.parity import Parity
from kd_toolkit.export.parity import compare_outputs
from kd_toolkit.export.quantization import Quantization
from kd_toolkit.export.quantization import get_quantization
from kd_toolkit.export.quantization import quantization_names
from kd_toolkit.export.runners import KerasRunner
from kd_toolkit.export.runners import LiteRTRunner
from kd_toolkit.export.runners import OnnxRunner
from kd_toolkit.export.tflite_export import UnsupportedOpsError
from kd_toolkit.export.tflite_export import convert_to_tflite
from kd_toolkit.export.tflite_export import export_tflite
from kd_toolkit.export.tflite_inspect import ConstantTensor
from kd_toolkit.export.tflite_inspect import constant_tensors
from kd_toolkit.export.tflite_inspect import non_builtin_ops
from kd_toolkit.export.tflite_inspect import operator_names
from kd_toolkit.export.thresholds import SMALL_MODEL_PARAMS
from kd_toolkit.export.thresholds import AcceptanceThresholds
from kd_toolkit.export.thresholds import SizeBasis
from kd_toolkit.export.thresholds import default_thresholds
from kd_toolkit.export.thresholds import resolve_size_basis
from kd_toolkit.export.verification import ArtifactReport
from kd_toolkit.export.verification import verify_artifact
from kd_toolkit.export.verified_export import export_and_verify

__all__ = [
    "SMALL_MODEL_PARAMS",
    "AcceptanceThresholds",
    "ArtifactFormat",
    "ArtifactReport",
    "ConstantTensor",
    "Conversion",
    "DeploymentChecks",
    "EdgeTpuCheck",
    "ExportReport",
    "ExtraChecks",
    "KerasRunner",
    "LatencyRow",
    "LatencyStats",
    "LayerError",
    "LiteRTRunner",
    "MicroFit",
    "OnnxRunner",
    "Parity",
    "Quantization",
    "Runtime",
    "SizeBasis",
    "Timing",
    "UnsupportedOpsError",
    "compare_outputs",
    "constant_tensors",
    "convert_to_onnx",
    "convert_to_tflite",
    "default_thresholds",
    "deployment_checks",
    "edgetpu_check",
    "estimate_arena_bytes",
    "export_and_verify",
    "export_onnx",
    "export_tflite",
    "format_names",
    "get_format",
    "get_quantization",
    "latency_table",
    "layer_errors",
    "measure_latency",
    "micro_fit",
    "minimal_arena_bytes",
    "non_builtin_ops",
    "operator_names",
    "parse_formats",
    "quantization_names",
    "resolve_size_basis",
    "verify_artifact",
    "write_model_card",
]
