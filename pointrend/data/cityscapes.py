"""CityscapesDataset: images and trainId labels of a Cityscapes-format dataset, as a paddle Dataset."""
import os
from typing import Callable, Optional, Tuple

import numpy as np
import paddle

from pointrend.data.classes import CITYSCAPES_CLASSES, IGNORE_INDEX, NUM_CLASSES, invalid_label_values
from pointrend.data.image_io import read_image, read_label
from pointrend.data.layout import PREPARE_TRAIN_IDS, TRAIN_ID_SUFFIX, official_layout_samples, read_list_file


def check_train_id_label(label: np.ndarray, path: str, root: str) -> None:
    """Raise if `label` (read from `path`) holds anything but trainIds, e.g. official labelIds."""
    invalid = invalid_label_values(label)
    if invalid.size:
        raise ValueError(
            f"label file {path} contains values {invalid.tolist()} outside 0..{NUM_CLASSES - 1} and {IGNORE_INDEX}: "
            f"it holds labelIds (or colours), not trainIds; convert the dataset with "
            f"`{PREPARE_TRAIN_IDS.format(root=root)}` and use the *{TRAIN_ID_SUFFIX} files"
        )


class CityscapesDataset(paddle.io.Dataset):
    """One split of a Cityscapes-format dataset.

    Reads the official folder layout, or a list file (`image<separator>label` per line, paths
    relative to `root`). Every file name is validated here, and the first label's values too, so
    a broken dataset fails before training starts; later labels are checked as they are read.

    `transforms` is called albumentations-style, `transforms(image=..., mask=...)` -> dict, on
    the uint8 BGR image as decoded by OpenCV (channel order and normalisation are the
    transforms' job). Items are `(image float32 [3, H, W], label int64 [H, W])`, or `(image,)`
    when the split is unlabelled. `labelled=None` means: unlabelled for "test" (the official test
    labels are placeholders), labelled otherwise; with a list file it follows the file's columns.
    """

    class_names = CITYSCAPES_CLASSES
    num_classes = NUM_CLASSES
    ignore_index = IGNORE_INDEX

    def __init__(
        self,
        root: str,
        split: str = "train",
        transforms: Optional[Callable[..., dict]] = None,
        list_file: Optional[str] = None,
        separator: str = ",",
        labelled: Optional[bool] = None,
        label_suffix: str = TRAIN_ID_SUFFIX,
    ) -> None:
        super().__init__()
        self.root = root
        self.split = split
        self.transforms = transforms
        if list_file is not None:
            self.image_paths, self.label_paths = read_list_file(list_file, root, separator, labelled)
        else:
            labelled = split != "test" if labelled is None else labelled
            self.image_paths, self.label_paths = official_layout_samples(root, split, labelled, label_suffix)
        self.labelled = self.label_paths is not None
        if self.labelled:
            check_train_id_label(read_label(self.label_paths[0]), self.label_paths[0], root)
        # Off when the caller seeds the transforms for every sample itself (the Trainer does,
        # so that a resumed run repeats the same augmentations whatever the worker count).
        self.reseed_transforms_per_worker = True
        self._seeded_worker_pid: Optional[int] = None

    def __len__(self) -> int:
        return len(self.image_paths)

    def __getitem__(self, index: int) -> Tuple[np.ndarray, ...]:
        self._reseed_transforms_in_worker()
        image = read_image(self.image_paths[index])
        if not self.labelled:
            if self.transforms is not None:
                image = self.transforms(image=image)["image"]
            return (_to_chw_float32(image),)
        label_path = self.label_paths[index]
        label = read_label(label_path)
        if label.shape != image.shape[:2]:
            raise ValueError(
                f"label file {label_path} is {label.shape[1]}x{label.shape[0]} but its image "
                f"{self.image_paths[index]} is {image.shape[1]}x{image.shape[0]} (width x height); "
                "the pair does not belong together: fix the list file or re-extract the files"
            )
        check_train_id_label(label, label_path, self.root)
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
        if worker is not None and hasattr(self.transforms, "set_random_seed"):
            self.transforms.set_random_seed((worker.seed + worker.id) % 2**32)


def _to_chw_float32(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)
