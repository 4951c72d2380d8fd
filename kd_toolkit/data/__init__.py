"""Datasets for distillation: TFDS and offline local files as `tf.data`.

- `load`: a batched, prefetched, augmented `tf.data.Dataset`.
- `load_numpy`: a whole split as numpy arrays.
- `representative_dataset`: TFLite int8 calibration data.
- `dataset_info`, `names`: what each named dataset is.
"""

from kd_toolkit.data.catalog import AugmentSpec
from kd_toolkit.data.catalog import DatasetInfo
from kd_toolkit.data.catalog import augment_spec
from kd_toolkit.data.catalog import dataset_info
from kd_toolkit.data.catalog import names
from kd_toolkit.data.loader import load
from kd_toolkit.data.loader import load_numpy
from kd_toolkit.data.loader import representative_dataset
from kd_toolkit.data.tfds_source import TfdsDataNotFoundError

__all__ = [
    "AugmentSpec",
    "DatasetInfo",
    "TfdsDataNotFoundError",
    "augment_spec",
    "dataset_info",
    "load",
    "load_numpy",
    "names",
    "representative_dataset",
]
