"""Cityscapes label definitions: the one table every other module derives its ids and colours from.

Facts from the official Cityscapes label list: 34 label ids (0..33) plus the license plate (-1);
19 of them are evaluated and get a trainId 0..18, every other id maps to the ignore index 255.
"""

from typing import NamedTuple

import numpy as np

from pointrend.data.palette import colorize

IGNORE_INDEX = 255


class CityscapesLabel(NamedTuple):
    name: str
    label_id: int
    train_id: int
    color: tuple[int, int, int]


CITYSCAPES_LABELS: tuple[CityscapesLabel, ...] = (
    CityscapesLabel("unlabeled", 0, IGNORE_INDEX, (0, 0, 0)),
    CityscapesLabel("ego vehicle", 1, IGNORE_INDEX, (0, 0, 0)),
    CityscapesLabel("rectification border", 2, IGNORE_INDEX, (0, 0, 0)),
    CityscapesLabel("out of roi", 3, IGNORE_INDEX, (0, 0, 0)),
    CityscapesLabel("static", 4, IGNORE_INDEX, (0, 0, 0)),
    CityscapesLabel("dynamic", 5, IGNORE_INDEX, (111, 74, 0)),
    CityscapesLabel("ground", 6, IGNORE_INDEX, (81, 0, 81)),
    CityscapesLabel("road", 7, 0, (128, 64, 128)),
    CityscapesLabel("sidewalk", 8, 1, (244, 35, 232)),
    CityscapesLabel("parking", 9, IGNORE_INDEX, (250, 170, 160)),
    CityscapesLabel("rail track", 10, IGNORE_INDEX, (230, 150, 140)),
    CityscapesLabel("building", 11, 2, (70, 70, 70)),
    CityscapesLabel("wall", 12, 3, (102, 102, 156)),
    CityscapesLabel("fence", 13, 4, (190, 153, 153)),
    CityscapesLabel("guard rail", 14, IGNORE_INDEX, (180, 165, 180)),
    CityscapesLabel("bridge", 15, IGNORE_INDEX, (150, 100, 100)),
    CityscapesLabel("tunnel", 16, IGNORE_INDEX, (150, 120, 90)),
    CityscapesLabel("pole", 17, 5, (153, 153, 153)),
    CityscapesLabel("polegroup", 18, IGNORE_INDEX, (153, 153, 153)),
    CityscapesLabel("traffic light", 19, 6, (250, 170, 30)),
    CityscapesLabel("traffic sign", 20, 7, (220, 220, 0)),
    CityscapesLabel("vegetation", 21, 8, (107, 142, 35)),
    CityscapesLabel("terrain", 22, 9, (152, 251, 152)),
    CityscapesLabel("sky", 23, 10, (70, 130, 180)),
    CityscapesLabel("person", 24, 11, (220, 20, 60)),
    CityscapesLabel("rider", 25, 12, (255, 0, 0)),
    CityscapesLabel("car", 26, 13, (0, 0, 142)),
    CityscapesLabel("truck", 27, 14, (0, 0, 70)),
    CityscapesLabel("bus", 28, 15, (0, 60, 100)),
    CityscapesLabel("caravan", 29, IGNORE_INDEX, (0, 0, 90)),
    CityscapesLabel("trailer", 30, IGNORE_INDEX, (0, 0, 110)),
    CityscapesLabel("train", 31, 16, (0, 80, 100)),
    CityscapesLabel("motorcycle", 32, 17, (0, 0, 230)),
    CityscapesLabel("bicycle", 33, 18, (119, 11, 32)),
    CityscapesLabel("license plate", -1, IGNORE_INDEX, (0, 0, 142)),
)

_EVALUATED = sorted(
    (label for label in CITYSCAPES_LABELS if label.train_id != IGNORE_INDEX),
    key=lambda label: label.train_id,
)

NUM_CLASSES = len(_EVALUATED)
CITYSCAPES_CLASSES: tuple[str, ...] = tuple(label.name for label in _EVALUATED)
CITYSCAPES_PALETTE: tuple[tuple[int, int, int], ...] = tuple(label.color for label in _EVALUATED)
LABEL_ID_TO_TRAIN_ID: dict[int, int] = {
    label.label_id: label.train_id for label in CITYSCAPES_LABELS if label.label_id >= 0
}
TRAIN_ID_TO_LABEL_ID: dict[int, int] = {label.train_id: label.label_id for label in _EVALUATED}


def label_id_lookup_table() -> np.ndarray:
    """uint8 table of 256 entries: labelId -> trainId, 255 for every id that is not evaluated.

    Ids absent from the official list (including the license plate's -1, which wraps to 255 in
    a uint8 PNG) map to the ignore index too.
    """
    table = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for label_id, train_id in LABEL_ID_TO_TRAIN_ID.items():
        table[label_id] = train_id
    return table


def train_id_lookup_table() -> np.ndarray:
    """uint8 table of 256 entries: trainId -> labelId, everything else -> 0 ("unlabeled")."""
    table = np.zeros(256, dtype=np.uint8)
    for train_id, label_id in TRAIN_ID_TO_LABEL_ID.items():
        table[train_id] = label_id
    return table


def label_ids_to_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Map a uint8 labelId map (any shape) to trainIds with a single table lookup."""
    return label_id_lookup_table()[label_ids]


def train_ids_to_label_ids(train_ids: np.ndarray) -> np.ndarray:
    """Map a trainId map (any shape, values 0..18 or 255) to official labelIds (the format the
    Cityscapes evaluation server expects); the ignore index becomes 0."""
    return train_id_lookup_table()[train_ids]


def colorize_train_ids(
    train_ids: np.ndarray, ignore_color: tuple[int, int, int] = (0, 0, 0)
) -> np.ndarray:
    """[H, W] trainIds -> [H, W, 3] uint8 RGB image in the official Cityscapes colours."""
    return colorize(train_ids, CITYSCAPES_PALETTE, ignore_color)


_IS_VALID_TRAIN_ID = np.zeros(256, dtype=bool)
_IS_VALID_TRAIN_ID[:NUM_CLASSES] = True
_IS_VALID_TRAIN_ID[IGNORE_INDEX] = True


def invalid_label_values(train_ids: np.ndarray) -> np.ndarray:
    """Values of a uint8 trainId map that are neither a class (0..18) nor the ignore index.

    Official labelIds betray themselves here: road is 7, building 11, vegetation 21, sky 23, car 26.
    """
    present = np.flatnonzero(np.bincount(train_ids.ravel(), minlength=256))
    return present[~_IS_VALID_TRAIN_ID[present]]
