"""Datasets known by their layout: Cityscapes is a DatasetSpec like any dataset.json."""

import os

from pointrend.data.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, IGNORE_INDEX
from pointrend.data.errors import SpecError
from pointrend.data.layout import (
    IMAGE_DIR,
    IMAGE_SUFFIX,
    LABEL_DIR,
    PREPARE_TRAIN_IDS,
    SPLITS,
    TRAIN_ID_SUFFIX,
)
from pointrend.data.spec import SPEC_FILE, DatasetSpec, SplitSpec
from pointrend.data.spec_parse import read_spec

CITYSCAPES = "cityscapes"


def cityscapes_spec(root: str, label_suffix: str = TRAIN_ID_SUFFIX) -> DatasetSpec:
    """Cityscapes trainId files: leftImg8bit/<split>/<city>/ and gtFine/<split>/<city>/; test
    unlabelled."""
    splits = {
        split: SplitSpec(
            split, f"{IMAGE_DIR}/{split}", None if split == "test" else f"{LABEL_DIR}/{split}"
        )
        for split in SPLITS
    }
    return DatasetSpec(
        root=root,
        source=f"{CITYSCAPES} preset ({root})",
        class_names=CITYSCAPES_CLASSES,
        splits=splits,
        ignore_index=IGNORE_INDEX,
        palette=CITYSCAPES_PALETTE,
        image_suffixes=(IMAGE_SUFFIX,),
        preset=CITYSCAPES,
        mask_suffix=label_suffix,
        undeclared_values_hint=(
            "it holds labelIds (or colours), not trainIds; convert the dataset with "
            f"`{PREPARE_TRAIN_IDS.format(root=root)}` and use the *{TRAIN_ID_SUFFIX} files"
        ),
    )


def is_cityscapes_root(root: str) -> bool:
    return os.path.isdir(os.path.join(root, IMAGE_DIR))


def spec_for_root(root: str) -> DatasetSpec:
    """root/dataset.json when present, else the Cityscapes preset for a Cityscapes layout."""
    if not os.path.isdir(root):
        raise FileNotFoundError(
            f"dataset root {root} does not exist; point it at the folder that holds {SPEC_FILE} "
            f"(or Cityscapes' {IMAGE_DIR}/ and {LABEL_DIR}/), or generate a synthetic dataset with "
            f"`python -m pointrend.data.synthetic --root {root}` (add --preset custom5 for one "
            "with a dataset.json)"
        )
    if os.path.isfile(os.path.join(root, SPEC_FILE)):
        return read_spec(root)
    if is_cityscapes_root(root):
        return cityscapes_spec(root)
    raise SpecError(
        os.path.join(root, SPEC_FILE),
        "(file)",
        f"does not exist and {root} has no Cityscapes {IMAGE_DIR}/ folder; describe your dataset "
        f"with `python -m pointrend.data.prepare describe --root={root}` (then edit the class "
        "names)",
    )
