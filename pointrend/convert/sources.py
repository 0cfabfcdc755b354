"""The codebases whose checkpoints `python -m pointrend.convert` reads, one entry each.

An entry is a function (path of the source file) -> ConvertedModel: our network holding the
file's weights, every `build_model` setting that network needs, and the image normalisation the
source trained with (albumentations' Normalize fields, see `pointrend.inference.normalization`).
A file of the wrong kind raises a one-line ValueError.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NamedTuple

from paddle import nn


class ConvertedModel(NamedTuple):
    network: nn.Layer
    model_config: dict[str, Any]
    normalization: dict[str, Any]


# Not weights, so not in the file: the point sampling and subdivision of detectron2's Cityscapes
# PointRend configs (POINT_HEAD.TRAIN_NUM_POINTS, OVERSAMPLE_RATIO, IMPORTANCE_SAMPLE_RATIO,
# SUBDIVISION_STEPS, SUBDIVISION_NUM_POINTS).
DETECTRON2_CITYSCAPES_POINTS = {
    "train_num_points": 2048,
    "oversample_ratio": 3.0,
    "importance_ratio": 0.75,
    "subdivision_steps": 2,
    "subdivision_num_points": 8192,
}


def detectron2_source(path: str | os.PathLike) -> ConvertedModel:
    """A detectron2 PointRend semantic-segmentation `.pkl` (model zoo) or `.pth` (Checkpointer).
    Its input: BGR on the 0-255 scale minus PIXEL_MEAN, divided by PIXEL_STD."""
    from pointrend.convert.detectron2 import (
        CHANNEL_ORDER,
        PIXEL_MEAN,
        PIXEL_STD,
        load_detectron2_model,
    )

    network, options = load_detectron2_model(path, **DETECTRON2_CITYSCAPES_POINTS)
    normalization = {
        "mean": list(PIXEL_MEAN),
        "std": list(PIXEL_STD),
        "to_rgb": CHANNEL_ORDER == "RGB",
        "max_pixel_value": 1.0,
    }
    return ConvertedModel(network, options, normalization)


def paddleseg_source(path: str | os.PathLike) -> ConvertedModel:
    """A PaddleSeg 2.8 `model.pdparams` of PointRend (ResNet_vd), in PaddleSeg's layout with its
    own point sampling and subdivision (PADDLESEG_LAYOUT), or of STDC-Seg (model.arch "stdc").
    Its input: RGB on the 0-255 scale minus PIXEL_MEAN, divided by PIXEL_STD (PaddleSeg's
    default Normalize(), (x / 255 - 0.5) / 0.5)."""
    from pointrend.convert.paddleseg import (
        CHANNEL_ORDER,
        PIXEL_MEAN,
        PIXEL_STD,
        POINTREND,
        paddleseg_model,
        read_paddleseg_checkpoint,
    )

    checkpoint = read_paddleseg_checkpoint(path)
    network, options = paddleseg_model(checkpoint)
    if checkpoint.kind != POINTREND:
        options = {
            "arch": "stdc",
            "stdc_variant": options["variant"],
            "num_classes": options["num_classes"],
            "point_head": False,
        }
    normalization = {
        "mean": list(PIXEL_MEAN),
        "std": list(PIXEL_STD),
        "to_rgb": CHANNEL_ORDER == "RGB",
        "max_pixel_value": 1.0,
    }
    return ConvertedModel(network, options, normalization)


SOURCES: dict[str, Callable[[str | os.PathLike], ConvertedModel]] = {
    "detectron2": detectron2_source,
    "paddleseg": paddleseg_source,
}
