"""Datasets for distillation: TFDS and offline local files as `tf.data`.

- `load`: a batched, prefetched, augmented `tf.data.Dataset`.
- `from_directory`, `ImageFolder`: a folder of JPEG/PNG images (class
  subfolders, or unlabeled), decoded inside `tf.data`.
- `from_tfds`: any prepared TFDS dataset by name and split string.
- `IndexedSource`, `ArraySource`: examples by stable id, what the sharded
  teacher-output cache is built from (`ImageFolder` is one too).
- `load_numpy`: a whole split as numpy arrays.
- `representative_dataset`: TFLite int8 calibration data.
- `dataset_info`, `names`: what each named dataset is.
"""

from kd_toolkit.data.array_source import ArraySource
from kd_toolkit.data.catalog import UNLABELED
from kd_toolkit.data.catalog import AugmentSpec
from kd_toolkit.data.catalog import DatasetInfo
from kd_toolkit.data.catalog import ResizedCropSpec
from kd_toolkit.data.catalog import augment_spec
from kd_toolkit.data.catalog import dataset_info
from kd_toolkit.data.catalog import names
from kd_toolkit.data.image_folder import ImageFolder
from kd_toolkit.data.image_folder import from_directory
from kd_toolkit.data.indexed_source import IndexedSource
from kd_toolkit.data.loader import load
from kd_toolkit.data.loader import load_numpy
from kd_toolkit.data.loader import representative_dataset
from kd_toolkit.data.tfds_dataset import from_tfds
from kd_toolkit.data.tfds_source import TfdsDataNotFoundError

__all__ = [
    "UNLABELED",
    "ArraySource",
    "AugmentSpec",
    "DatasetInfo",
    "ImageFolder",
    "IndexedSource",
    "ResizedCropSpec",
    "TfdsDataNotFoundError",
    "augment_spec",
    "dataset_info",
    "from_directory",
    "from_tfds",
    "load",
    "load_numpy",
    "names",
    "representative_dataset",
]
