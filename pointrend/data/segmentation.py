"""SegmentationDataset: one split of any dataset described by a DatasetSpec, as a paddle Dataset."""

import os
from collections.abc import Callable

import numpy as np
import paddle

from pointrend.data.decode import read_image_file, read_mask_file
from pointrend.data.errors import DataFileError
from pointrend.data.mask_values import mask_to_train_ids
from pointrend.data.palette import Color
from pointrend.data.spec import DatasetSpec
from pointrend.data.split_files import split_files


class SegmentationDataset(paddle.io.Dataset):
    """Images and train-id masks of one split of `spec`.

    The split's files are paired and the first mask decoded when the dataset is built, so a broken
    dataset fails before training starts; later files are checked as they are read (use
    pointrend.data.sample_errors to read them inside a DataLoader without hanging it).

    `transforms` is called albumentations-style, `transforms(image=..., mask=...)` -> dict, on the
    uint8 BGR image OpenCV decodes and the uint8 train-id mask (class index, or ignore_index).
    Items are `(image float32 [3, H, W], label int64 [H, W])`, or `(image,)` when unlabelled.
    `labelled=None` follows the spec (a split without masks is unlabelled).
    """

    def __init__(
        self,
        spec: DatasetSpec,
        split: str = "train",
        transforms: Callable[..., dict] | None = None,
        labelled: bool | None = None,
    ) -> None:
        super().__init__()
        self.spec = spec
        self.root = spec.root
        self.split = split
        self.transforms = transforms
        self.image_paths, self.label_paths = self._find_samples(labelled)
        self.labelled = self.label_paths is not None
        if self.labelled:
            self.read_label(0)
        # Off when the caller seeds the transforms for every sample itself (the Trainer does,
        # so that a resumed run repeats the same augmentations whatever the worker count).
        self.reseed_transforms_per_worker = True
        self._seeded_worker_pid: int | None = None

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.spec.class_names

    @property
    def num_classes(self) -> int:
        return self.spec.num_classes

    @property
    def ignore_index(self) -> int:
        return self.spec.ignore_index

    @property
    def palette(self) -> tuple[Color, ...]:
        """RGB colour per class (generated when the spec declares none)."""
        return self.spec.colors

    def _find_samples(self, labelled: bool | None) -> tuple[list[str], list[str] | None]:
        files = split_files(self.spec, self.split, labelled)
        files.raise_if_problems()
        return files.images, files.masks

    def __len__(self) -> int:
        return len(self.image_paths)

    def read_label(self, index: int) -> np.ndarray:
        """The train-id mask of sample `index`: uint8 [H, W]; DataFileError names a bad file."""
        if self.label_paths is None:
            raise ValueError(f"{self.split} of {self.spec.root} has no labels")
        path = self.label_paths[index]
        raw = read_mask_file(path, palette_indices=self.spec.mask_format == "index")
        return mask_to_train_ids(raw, self.spec, path)

    def load_sample(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(uint8 BGR image [H, W, 3], uint8 train ids [H, W] or None), before any transform."""
        image = read_image_file(self.image_paths[index])
        if not self.labelled:
            return image, None
        label = self.read_label(index)
        if label.shape != image.shape[:2]:
            assert self.label_paths is not None, "read_label read one"
            path = self.label_paths[index]
            raise DataFileError(
                path,
                (
                    f"label file {path} is {label.shape[1]}x{label.shape[0]} but its image "
                    f"{self.image_paths[index]} is {image.shape[1]}x{image.shape[0]} (width x "
                    "height); the pair does not belong together: fix the pairing or re-extract "
                    "the files"
                ),
            )
        return image, label

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        self._reseed_transforms_in_worker()
        image, label = self.load_sample(index)
        if label is None:
            if self.transforms is not None:
                image = self.transforms(image=image)["image"]
            return (_to_chw_float32(image),)
        if self.transforms is not None:
            transformed = self.transforms(image=image, mask=label)
            image, label = transformed["image"], transformed["mask"]
        return _to_chw_float32(image), np.asarray(label, dtype=np.int64)

    def _reseed_transforms_in_worker(self) -> None:
        # Forked DataLoader workers inherit identical augmentation RNG states and would all draw
        # the same crops; derive each worker's stream from the seed paddle gives that worker.
        pid = os.getpid()
        if not self.reseed_transforms_per_worker or pid == self._seeded_worker_pid:
            return
        self._seeded_worker_pid = pid
        worker = paddle.io.get_worker_info()
        set_random_seed = getattr(self.transforms, "set_random_seed", None)
        if worker is not None and set_random_seed is not None:
            set_random_seed((worker.seed + worker.id) % 2**32)


def _to_chw_float32(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)
