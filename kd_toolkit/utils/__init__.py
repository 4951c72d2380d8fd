"""Small shared utilities."""

from kd_toolkit.utils.atomic_io import atomic_save_model
from kd_toolkit.utils.atomic_io import atomic_write_bytes
from kd_toolkit.utils.atomic_io import atomic_write_text
from kd_toolkit.utils.atomic_io import atomic_write_texts
from kd_toolkit.utils.atomic_io import check_output_path
