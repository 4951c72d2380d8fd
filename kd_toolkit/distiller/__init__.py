"""The Distiller model and its helpers."""

from kd_toolkit.distiller.batch_norm_folding import fold_batch_norm
from kd_toolkit.distiller.cache_files import CorruptCacheError
from kd_toolkit.distiller.cache_files import StaleCacheError
from kd_toolkit.distiller.callbacks import BestStudentCheckpoint
from kd_toolkit.distiller.callbacks import StopOnNonFiniteLoss
from kd_toolkit.distiller.distiller import Distiller
from kd_toolkit.distiller.feature_taps import layer_names
from kd_toolkit.distiller.output_kind import detect_output_kind
from kd_toolkit.distiller.resume import BackupAndRestore
from kd_toolkit.distiller.sharded_cache import ShardedTeacherCache
from kd_toolkit.distiller.teacher_cache import TeacherLogitsCache
from kd_toolkit.distiller.teacher_ensemble import teacher_ensemble

__all__ = [
    "BackupAndRestore",
    "BestStudentCheckpoint",
    "CorruptCacheError",
    "Distiller",
    "ShardedTeacherCache",
    "StaleCacheError",
    "StopOnNonFiniteLoss",
    "TeacherLogitsCache",
    "detect_output_kind",
    "fold_batch_norm",
    "layer_names",
    "teacher_ensemble",
]
