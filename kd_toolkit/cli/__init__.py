"""The command lines, one module each, installed as console scripts:

- `kd-train` (`kd_toolkit.cli.train`, also `python -m kd_toolkit.train`):
  train or load a teacher, distil a student, report;
- `kd-export` (`kd_toolkit.cli.export`, also `export/export_student.py`):
  export a student to LiteRT/ONNX and verify every artifact;
- `kd-compress` (`kd_toolkit.cli.compress`, also
  `examples/compress_student.py`): prune and quantize a student, compare.

Each module defines its absl flags when imported, so this package face
imports none of them.
"""

__all__ = []
