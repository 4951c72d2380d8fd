"""The data of one distillation run: a named dataset or the user's folders.

`kd-train --dataset=fashion_mnist` reads a dataset of `kd_toolkit.data`;
`kd-train --data_dir=DIR [--val_dir=DIR] [--unlabeled_dir=DIR]
[--image_size=H,W]` reads folders of JPEG/PNG images, one subfolder per
class (`kd_toolkit.data.ImageFolder`). Both give the recipe the same
things: the dataset's facts, seeded training batches, evaluation batches,
and the training images as arrays for the teacher-output cache.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from kd_toolkit import data
from kd_toolkit.data.catalog import DatasetInfo
from kd_toolkit.data.image_folder import ImageFolder

# Without --val_dir, every HOLDOUT_EVERY-th image of --data_dir (in id
# order) is held out for evaluation.
HOLDOUT_EVERY = 10


@dataclasses.dataclass(frozen=True)
class RunInfo(DatasetInfo):
    """`DatasetInfo` of a run's data (`name` is the dataset's, or
    `"folder:<path>"`; `num_train` and `num_test` count what the run
    uses), and its unlabeled training images (0 for a named dataset)."""

    num_unlabeled: int = 0


class RunData:
    """The training and evaluation data of a run (see the module doc).

    Args:
        cfg: the run's `DistillConfig` (`dataset`, `data_dir`, `val_dir`,
            `unlabeled_dir`, `image_size`, `train_limit`, `test_limit`,
            `batch_size`).

    Raises:
        ValueError, FileNotFoundError: for an unknown dataset, folders
            that do not hold images, or flags that do not go together.
    """

    def __init__(self, cfg):
        self.cfg = cfg
        self.folders = cfg.dataset is None and cfg.data_dir is not None
        if not self.folders:
            for flag in ("val_dir", "unlabeled_dir", "image_size"):
                if getattr(cfg, flag) is not None:
                    raise ValueError(
                        f"`{flag}` goes with a folder of images "
                        "(`data_dir` without `dataset`). Received: "
                        f"{flag}={getattr(cfg, flag)!r}, dataset="
                        f"{cfg.dataset!r}"
                    )
            name = cfg.dataset or "fashion_mnist"
            self._named = data.dataset_info(name)
            self.info = RunInfo(
                name=name,
                input_shape=tuple(self._named.input_shape),
                num_classes=self._named.num_classes,
                class_names=tuple(self._named.class_names),
                num_train=min(
                    cfg.train_limit or self._named.num_train,
                    self._named.num_train,
                ),
                num_test=min(
                    cfg.test_limit or self._named.num_test,
                    self._named.num_test,
                ),
            )
            self.augment = data.augment_spec(name)
            return
        size = cfg.image_size or _first_image_size(cfg.data_dir)
        self.train_folder = ImageFolder(cfg.data_dir, size)
        names = self.train_folder.class_names
        if cfg.val_dir is not None:
            self.val_folder = ImageFolder(cfg.val_dir, size, class_names=names)
            self._train_ids = np.arange(self.train_folder.num_examples)
            self._val_ids = np.arange(self.val_folder.num_examples)
        else:
            self.val_folder = self.train_folder
            ids = np.arange(self.train_folder.num_examples)
            held = ids % HOLDOUT_EVERY == HOLDOUT_EVERY - 1
            self._train_ids, self._val_ids = ids[~held], ids[held]
        self._train_ids = self._train_ids[: cfg.train_limit]
        self._val_ids = self._val_ids[: cfg.test_limit]
        self.unlabeled_folder = (
            None
            if cfg.unlabeled_dir is None
            else ImageFolder(cfg.unlabeled_dir, size, labels=None)
        )
        self.info = RunInfo(
            name=f"folder:{cfg.data_dir}",
            input_shape=self.train_folder.input_shape,
            num_classes=self.train_folder.num_classes,
            class_names=names,
            num_train=len(self._train_ids),
            num_test=len(self._val_ids),
            num_unlabeled=(
                0
                if self.unlabeled_folder is None
                else self.unlabeled_folder.num_examples
            ),
        )
        if not len(self._val_ids):
            raise ValueError(
                "No evaluation images: pass --val_dir, or put at least "
                f"{HOLDOUT_EVERY} images in --data_dir. Received: "
                f"data_dir={cfg.data_dir!r} with {len(self._train_ids)} images"
            )
        pad = max(1, min(size) // 8)
        self.augment = data.AugmentSpec(pad=pad, flip=True)

    @property
    def num_distill_train(self):
        """Images the distiller trains on per epoch (labeled + unlabeled)."""
        return self.info.num_train + self.info.num_unlabeled

    def train(self, seed, unlabeled=False):
        """Seeded, augmented, shuffled training batches `(x, y)`; with
        `unlabeled`, the unlabeled images join them with label -1."""
        cfg = self.cfg
        if not self.folders:
            return data.load(
                self.info.name,
                "train",
                limit=cfg.train_limit,
                batch_size=cfg.batch_size,
                data_dir=cfg.data_dir,
                seed=seed,
            )
        return self._training_source(unlabeled).dataset(
            cfg.batch_size, augment=self.augment, shuffle=True, seed=seed
        )

    def test(self):
        """Evaluation batches `(x, y)`, in order."""
        cfg = self.cfg
        if not self.folders:
            return data.load(
                self.info.name,
                "test",
                limit=cfg.test_limit,
                batch_size=cfg.batch_size,
                data_dir=cfg.data_dir,
                seed=cfg.seed,
            )
        return self.val_folder.subset(self._val_ids).dataset(cfg.batch_size)

    def train_arrays(self, unlabeled=False):
        """The training images as float32 arrays in [0, 1], with labels
        (-1 for unlabeled images): what the in-memory teacher-output cache
        takes."""
        if not self.folders:
            return data.load_numpy(
                self.info.name,
                "train",
                data_dir=self.cfg.data_dir,
                limit=self.cfg.train_limit,
            )
        return self._training_source(unlabeled).arrays()

    def cache_source(self):
        """The distiller's training images as one indexed source, for the
        sharded teacher-output cache: the labeled training images, then
        the unlabeled ones (label -1)."""
        return self._training_source(unlabeled=True)

    def _training_source(self, unlabeled):
        source = self.train_folder.subset(self._train_ids)
        if unlabeled and self.unlabeled_folder is not None:
            source = source.with_unlabeled(self.unlabeled_folder)
        return source


def _first_image_size(path):
    """`(H, W)` of the first image of a folder (the default image size)."""
    folder = ImageFolder(path, (1, 1))
    first = folder.paths[0]
    shape = tf.io.decode_image(
        tf.io.read_file(str(first)), expand_animations=False
    ).shape
    return (int(shape[0]), int(shape[1]))
