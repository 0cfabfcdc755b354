"""A synthetic dataset that is not Cityscapes: 5 classes, JPEG images, colour masks, dataset.json.

    images/<split>/scene_<index>.jpg
    annotations/<split>/scene_<index>.png   RGB colours of CUSTOM5_PALETTE, black = not labelled
    dataset.json

The street scenes of synthetic_scene.py with their labelIds merged into five classes; the test
split (if any) has images only.
"""

import os

import cv2
import numpy as np

from pointrend.data.image_io import write_png
from pointrend.data.parallel import parallel_map
from pointrend.data.spec import SPEC_FILE, DatasetSpec, SplitSpec
from pointrend.data.spec_write import write_spec
from pointrend.data.synthetic_scene import (
    BICYCLE,
    BUILDING,
    BUS,
    CAR,
    FENCE,
    PERSON,
    POLE,
    RIDER,
    ROAD,
    SIDEWALK,
    SKY,
    TERRAIN,
    TRAFFIC_LIGHT,
    TRAFFIC_SIGN,
    VEGETATION,
    WALL,
    render_scene,
)

CUSTOM5_CLASSES = ("ground", "structure", "vegetation", "sky", "mover")
CUSTOM5_PALETTE = ((170, 120, 60), (90, 90, 110), (40, 160, 40), (110, 170, 240), (230, 40, 60))
CUSTOM5_IGNORE_COLOR = (0, 0, 0)
# labelId -> class index; every other labelId (ego vehicle, static, unlabelled) is not labelled.
_CLASSES_OF_LABEL_IDS = (
    (ROAD, SIDEWALK, TERRAIN),
    (BUILDING, WALL, FENCE, POLE, TRAFFIC_LIGHT, TRAFFIC_SIGN),
    (VEGETATION,),
    (SKY,),
    (PERSON, RIDER, CAR, BUS, BICYCLE),
)
_SPLITS = ("train", "val", "test")
_JPEG_QUALITY = 95


def custom5_spec(root: str, with_test: bool = False) -> DatasetSpec:
    splits = {
        split: SplitSpec(split, f"images/{split}", f"annotations/{split}")
        for split in ("train", "val")
    }
    if with_test:
        splits["test"] = SplitSpec("test", "images/test")
    return DatasetSpec(
        root=root,
        source=os.path.join(root, SPEC_FILE),
        class_names=CUSTOM5_CLASSES,
        splits=splits,
        palette=CUSTOM5_PALETTE,
        ignore_colors=(CUSTOM5_IGNORE_COLOR,),
        mask_format="color",
        image_suffixes=(".jpg",),
        mask_suffix=".png",
    )


def label_ids_to_colors(label_ids: np.ndarray) -> np.ndarray:
    """[H, W] labelIds -> [H, W, 3] uint8 RGB mask in the custom5 palette (black: not labelled)."""
    table = np.tile(np.asarray(CUSTOM5_IGNORE_COLOR, dtype=np.uint8), (256, 1))
    for class_index, label_ids_of_class in enumerate(_CLASSES_OF_LABEL_IDS):
        table[list(label_ids_of_class)] = CUSTOM5_PALETTE[class_index]
    return table[label_ids]


def generate_synthetic_custom5(
    root: str,
    num_train: int = 32,
    num_val: int = 8,
    num_test: int = 0,
    size: tuple[int, int] = (96, 192),
    seed: int = 0,
    workers: int = 1,
) -> dict[str, int]:
    """Write the dataset under `root` (same seed, same files); returns the images per split."""
    counts = {"train": num_train, "val": num_val, "test": num_test}
    jobs = [
        (root, split, index, size[0], size[1], seed)
        for split in _SPLITS
        for index in range(counts[split])
    ]
    parallel_map(_write_sample, jobs, workers, "synthetic images", progress=len(jobs) > 100)
    write_spec(custom5_spec(root, with_test=num_test > 0), os.path.join(root, SPEC_FILE))
    return {split: count for split, count in counts.items() if count}


def _write_sample(job: tuple[str, str, int, int, int, int]) -> None:
    root, split, index, height, width, seed = job
    # A seed stream of its own (the 7) keeps these scenes apart from the Cityscapes-layout ones.
    image, label_ids = render_scene(
        np.random.default_rng([seed, 7, _SPLITS.index(split), index]), height, width
    )
    name = f"scene_{index:04d}"
    image_path = os.path.join(root, "images", split, name + ".jpg")
    os.makedirs(os.path.dirname(image_path), exist_ok=True)
    if not cv2.imwrite(
        image_path,
        cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
        [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY],
    ):
        raise OSError(
            f"could not write {image_path}: check that the folder is writable and the disk is not "
            "full"
        )
    if split != "test":
        colors = label_ids_to_colors(label_ids)
        write_png(
            os.path.join(root, "annotations", split, name + ".png"),
            np.ascontiguousarray(colors[..., ::-1]),
        )
