"""kd_toolkit: knowledge distillation and compression for Keras 3 students.

The public API:

- `kd_toolkit.Distiller`: a `keras.Model` that trains a student from a
  teacher with pluggable losses (`kd_toolkit.losses`).
- `kd_toolkit.TeacherLogitsCache`: a frozen teacher's logits for augmented
  views, computed once and reused, so KD trains at the student's cost.
- `kd_toolkit.ShardedTeacherCache`: the same, in shards on disk, built from
  a folder of images and streamed: resumable, top-k, memory-mapped.
- `kd_toolkit.callbacks`: exact backup/resume, best-student checkpoints.
- `kd_toolkit.models`: CIFAR-style ResNets, wide ResNets and small CNNs with
  stable layer names.
- `kd_toolkit.data`: TFDS and offline dataset pipelines.
- `kd_toolkit.adaptation`: activation map adaptation of the teacher.
- `kd_toolkit.export`: LiteRT/TFLite and ONNX export with verification.
- `kd_toolkit.compress`: pruning and quantization-aware training (tfmot).
- `kd_toolkit.recipes`: the end-to-end runs behind the command lines.
"""

# TensorFlow first, with its native start-up lines kept off stderr
# (kd_toolkit.console.native_logs says how to get them back).
from kd_toolkit.console import quiet_tensorflow

# isort: split

from kd_toolkit import adaptation
from kd_toolkit import callbacks
from kd_toolkit import compress
from kd_toolkit import data
from kd_toolkit import export
from kd_toolkit import losses
from kd_toolkit import models
from kd_toolkit import pretrained
from kd_toolkit import recipes
from kd_toolkit.distiller import CorruptCacheError
from kd_toolkit.distiller import Distiller
from kd_toolkit.distiller import ShardedTeacherCache
from kd_toolkit.distiller import StaleCacheError
from kd_toolkit.distiller import StopOnNonFiniteLoss
from kd_toolkit.distiller import TeacherLogitsCache
from kd_toolkit.distiller import teacher_ensemble
from kd_toolkit.version import __version__

__all__ = [
    "CorruptCacheError",
    "Distiller",
    "ShardedTeacherCache",
    "StaleCacheError",
    "StopOnNonFiniteLoss",
    "TeacherLogitsCache",
    "__version__",
    "adaptation",
    "callbacks",
    "compress",
    "data",
    "export",
    "losses",
    "models",
    "pretrained",
    "recipes",
    "teacher_ensemble",
]
