"""Segmentation data: any dataset described by a dataset.json (or the Cityscapes preset), class
tables, transforms, preparation tools and synthetic datasets.

Everything beyond the class tables is imported on first use: CityscapesDataset needs paddle and
the transforms need albumentations (seconds to import), which the `python -m pointrend.data.prepare`
and `python -m pointrend.data.synthetic` tools do not; importing the generator here eagerly would
also make `-m pointrend.data.synthetic` run a module that is already imported.
"""

import importlib
from typing import Any

from pointrend.data.classes import (
    CITYSCAPES_CLASSES,
    CITYSCAPES_LABELS,
    CITYSCAPES_PALETTE,
    IGNORE_INDEX,
    LABEL_ID_TO_TRAIN_ID,
    NUM_CLASSES,
    TRAIN_ID_TO_LABEL_ID,
    colorize_train_ids,
    label_ids_to_train_ids,
    train_ids_to_label_ids,
)

_LAZY = {
    "CityscapesDataset": "pointrend.data.cityscapes",
    "SegmentationDataset": "pointrend.data.segmentation",
    "DatasetSpec": "pointrend.data.spec",
    "SpecError": "pointrend.data.errors",
    "spec_for_root": "pointrend.data.presets",
    "cityscapes_spec": "pointrend.data.presets",
    "generate_synthetic_custom5": "pointrend.data.synthetic_custom",
    "build_train_transforms": "pointrend.data.transforms",
    "build_val_transforms": "pointrend.data.transforms",
    "generate_synthetic_cityscapes": "pointrend.data.synthetic",
}

__all__ = [
    "CITYSCAPES_CLASSES",
    "CITYSCAPES_LABELS",
    "CITYSCAPES_PALETTE",
    "IGNORE_INDEX",
    "LABEL_ID_TO_TRAIN_ID",
    "NUM_CLASSES",
    "TRAIN_ID_TO_LABEL_ID",
    "colorize_train_ids",
    "label_ids_to_train_ids",
    "train_ids_to_label_ids",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pointrend.data' has no attribute {name!r}")
