"""detectron2's PointRend semantic-segmentation checkpoints (projects/PointRend, Cityscapes) as
this package's model: read safely, architecture inferred, every tensor mapped."""

from pointrend.convert.detectron2.architecture import infer_architecture
from pointrend.convert.detectron2.checkpoint import (
    CHANNEL_ORDER,
    PIXEL_MEAN,
    PIXEL_STD,
    Detectron2Checkpoint,
    read_detectron2_checkpoint,
)
from pointrend.convert.detectron2.mapping import detectron2_name, map_detectron2_names
from pointrend.convert.detectron2.model import detectron2_state_dict, load_detectron2_model

__all__ = [
    "CHANNEL_ORDER",
    "PIXEL_MEAN",
    "PIXEL_STD",
    "Detectron2Checkpoint",
    "detectron2_name",
    "detectron2_state_dict",
    "infer_architecture",
    "load_detectron2_model",
    "map_detectron2_names",
    "read_detectron2_checkpoint",
]
