"""Callbacks for distillation runs (the `keras.callbacks` of kd_toolkit).

- `BackupAndRestore`: back up a run and resume it to the exact batch.
- `BestStudentCheckpoint`: keep the best student by a validation metric.
- `StopOnNonFiniteLoss`: stop with a clear error when a loss diverges.
"""

from kd_toolkit.distiller.callbacks import BestStudentCheckpoint
from kd_toolkit.distiller.callbacks import StopOnNonFiniteLoss
from kd_toolkit.distiller.resume import BackupAndRestore

__all__ = ["BackupAndRestore", "BestStudentCheckpoint", "StopOnNonFiniteLoss"]
