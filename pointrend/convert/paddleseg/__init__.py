"""PaddleSeg 2.8 checkpoints (PointRend on ResNet_vd, STDC-Seg) as this package's models: read
safely, architecture inferred, every tensor mapped."""

from pointrend.convert.paddleseg.architecture import (
    infer_pointrend_architecture,
    infer_stdc_architecture,
)
from pointrend.convert.paddleseg.checkpoint import (
    CHANNEL_ORDER,
    PIXEL_MEAN,
    PIXEL_STD,
    POINTREND,
    STDC_SEG,
    PaddleSegCheckpoint,
    read_paddleseg_checkpoint,
)
from pointrend.convert.paddleseg.mapping import (
    map_paddleseg_names,
    never_run_pointrend_names,
    paddleseg_pointrend_name,
)
from pointrend.convert.paddleseg.model import (
    load_paddleseg_model,
    paddleseg_architecture,
    paddleseg_builder,
    paddleseg_model,
    paddleseg_state_dict,
)

__all__ = [
    "CHANNEL_ORDER",
    "PIXEL_MEAN",
    "PIXEL_STD",
    "POINTREND",
    "STDC_SEG",
    "PaddleSegCheckpoint",
    "infer_pointrend_architecture",
    "infer_stdc_architecture",
    "load_paddleseg_model",
    "map_paddleseg_names",
    "never_run_pointrend_names",
    "paddleseg_architecture",
    "paddleseg_builder",
    "paddleseg_model",
    "paddleseg_pointrend_name",
    "paddleseg_state_dict",
    "read_paddleseg_checkpoint",
]
