"""Cityscapes data: class tables, the dataset, transforms, preparation tools and a synthetic dataset.

CityscapesDataset (needs paddle) and the transforms (need albumentations) are imported on first
use, so that `python -m pointrend.data.prepare` and `python -m pointrend.data.synthetic` start
without loading either.
"""
import importlib
from typing import Any

from pointrend.data.classes import (CITYSCAPES_CLASSES, CITYSCAPES_LABELS, CITYSCAPES_PALETTE, IGNORE_INDEX,
                                    LABEL_ID_TO_TRAIN_ID, NUM_CLASSES, TRAIN_ID_TO_LABEL_ID, colorize_train_ids,
                                    label_ids_to_train_ids, train_ids_to_label_ids)
from pointrend.data.synthetic import generate_synthetic_cityscapes

_LAZY = {
    "CityscapesDataset": "pointrend.data.cityscapes",
    "build_train_transforms": "pointrend.data.transforms",
    "build_val_transforms": "pointrend.data.transforms",
}

__all__ = [
    "CITYSCAPES_CLASSES", "CITYSCAPES_LABELS", "CITYSCAPES_PALETTE", "IGNORE_INDEX", "LABEL_ID_TO_TRAIN_ID",
    "NUM_CLASSES", "TRAIN_ID_TO_LABEL_ID", "colorize_train_ids", "label_ids_to_train_ids", "train_ids_to_label_ids",
    "generate_synthetic_cityscapes", *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pointrend.data' has no attribute {name!r}")
