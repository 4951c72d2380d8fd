"""Small shared utilities."""

from kd_toolkit.utils.atomic_io import atomic_save_model
from kd_toolkit.utils.atomic_io import atomic_write_bytes
from kd_toolkit.utils.atomic_io import atomic_write_text
from kd_toolkit.utils.atomic_io import atomic_write_texts
from kd_toolkit.utils.atomic_io import check_output_path

__all__ = [
    "atomic_save_model",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_texts",
    "check_output_path",
]
