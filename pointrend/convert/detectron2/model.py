"""A detectron2 PointRend semantic-segmentation checkpoint as our model, ready to run."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import paddle.nn as nn

from pointrend.convert.detectron2.architecture import infer_architecture
from pointrend.convert.detectron2.checkpoint import Detectron2Checkpoint, read_detectron2_checkpoint
from pointrend.convert.detectron2.mapping import map_detectron2_names
from pointrend.models import PointRendSegmentor, build_model


def detectron2_state_dict(
    checkpoint: Detectron2Checkpoint, model: nn.Layer
) -> dict[str, np.ndarray]:
    """The state dict of `model` (every parameter and buffer) taken from `checkpoint`.

    A checkpoint of another depth than the model's backbone is named as such in one line; any
    other difference raises the ValueError of `map_detectron2_names`.
    """
    architecture = infer_architecture(checkpoint.shapes, checkpoint.source)
    model_depth = getattr(getattr(model, "backbone", None), "depth", None)
    if model_depth is not None and model_depth != architecture["backbone_depth"]:
        raise ValueError(
            f"{checkpoint.source}: a ResNet-{architecture['backbone_depth']} PointRend "
            f"checkpoint, but the model's backbone is ResNet-{model_depth}"
        )
    ours = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    pairs = map_detectron2_names(ours, checkpoint.shapes, checkpoint.source)
    return {
        name: np.asarray(checkpoint.weights[their], dtype=np.float32)
        for name, their in pairs.items()
    }


def load_detectron2_model(
    path: str | os.PathLike, **build_options: Any
) -> tuple[PointRendSegmentor, dict]:
    """(model in eval mode, its build_model kwargs) for a detectron2 `.pkl` / `.pth` checkpoint.

    The architecture comes from the tensors; `build_options` add what they cannot tell (e.g.
    subdivision_num_points) or override it. The model takes BGR images on the 0-255 scale
    normalised with detectron2's PIXEL_MEAN / PIXEL_STD (see `checkpoint.PIXEL_MEAN`).
    """
    checkpoint = read_detectron2_checkpoint(path)
    options = {**infer_architecture(checkpoint.shapes, checkpoint.source), **build_options}
    model = build_model(**options)
    assert isinstance(model, PointRendSegmentor), "infer_architecture reads a point head"
    # set_state_dict takes numpy arrays too (its type information lists tensors only).
    model.set_state_dict(detectron2_state_dict(checkpoint, model))  # type: ignore[arg-type]
    return model.eval(), options
