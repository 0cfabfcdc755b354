"""A PaddleSeg checkpoint (PointRend on ResNet_vd, or STDC-Seg) as our model, ready to run.

The model takes RGB images normalised as PaddleSeg's Cityscapes configs do: (x - PIXEL_MEAN) /
PIXEL_STD on the 0-255 scale (see `checkpoint`), [N, 3, H, W] -> logits [N, K, H, W] in eval mode.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
from paddle import nn

from pointrend.convert.paddleseg.architecture import (
    infer_pointrend_architecture,
    infer_stdc_architecture,
)
from pointrend.convert.paddleseg.checkpoint import (
    POINTREND,
    PaddleSegCheckpoint,
    read_paddleseg_checkpoint,
)
from pointrend.convert.paddleseg.mapping import (
    map_paddleseg_names,
    never_run_pointrend_names,
    paddleseg_pointrend_name,
)
from pointrend.models import build_model, build_stdc_seg


def paddleseg_architecture(checkpoint: PaddleSegCheckpoint) -> dict[str, Any]:
    """Keyword arguments of the builder of `checkpoint.kind` (see `paddleseg_builder`)."""
    if checkpoint.kind == POINTREND:
        return infer_pointrend_architecture(checkpoint.shapes, checkpoint.source)
    return infer_stdc_architecture(checkpoint.shapes, checkpoint.source)


def paddleseg_builder(kind: str) -> Any:
    """`build_model` for PointRend checkpoints, `build_stdc_seg` for STDC-Seg ones."""
    return build_model if kind == POINTREND else build_stdc_seg


def paddleseg_state_dict(checkpoint: PaddleSegCheckpoint, model: nn.Layer) -> dict[str, np.ndarray]:
    """The state dict of `model` (every parameter and buffer) taken from `checkpoint`.

    A checkpoint of another model or depth than `model` is named as such in one line; any other
    difference raises the one-line ValueError of `map_paddleseg_names`.
    """
    check_same_kind(checkpoint, model)
    ours = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    rename: Callable[[str], str | None]
    if checkpoint.kind == POINTREND:
        rename, never_run = paddleseg_pointrend_name, never_run_pointrend_names(checkpoint.shapes)
    else:
        rename, never_run = (lambda name: name), []
    pairs = map_paddleseg_names(ours, checkpoint.shapes, rename, never_run, checkpoint.source)
    return {
        name: np.asarray(checkpoint.weights[their], dtype=np.float32)
        for name, their in pairs.items()
    }


def check_same_kind(checkpoint: PaddleSegCheckpoint, model: nn.Layer) -> None:
    """Raise a one-line ValueError when `model` is not the network `checkpoint` holds, in
    kind (PointRend / STDC-Seg) or in backbone depth / STDC variant."""
    architecture = paddleseg_architecture(checkpoint)
    if checkpoint.kind == POINTREND:
        expected, theirs = "PointRend", f"ResNet-{architecture['backbone_depth']}_vd PointRend"
        depth = getattr(getattr(model, "backbone", None), "depth", None)
        ours = None if depth is None or not hasattr(model, "point_head") else f"ResNet-{depth}"
        fits = ours == f"ResNet-{architecture['backbone_depth']}"
    else:
        expected, theirs = "STDC-Seg", f"{architecture['variant'].upper()}-Seg"
        context_path = getattr(model, "cp", None)
        variant = getattr(getattr(context_path, "backbone", None), "variant", None)
        ours = None if variant is None else f"{variant.upper()}-Seg"
        fits = variant == architecture["variant"]
    if not fits:
        what = f"the model is {ours}" if ours else f"the model is not a {expected} network"
        raise ValueError(f"{checkpoint.source}: a {theirs} checkpoint, but {what}")


def paddleseg_model(
    checkpoint: PaddleSegCheckpoint, **build_options: Any
) -> tuple[nn.Layer, dict[str, Any]]:
    """(model in eval mode, its builder kwargs) for a read PaddleSeg checkpoint: a PointRend
    checkpoint gives a `build_model` network in PaddleSeg's layout (kwargs include
    PADDLESEG_LAYOUT), an STDC-Seg one a `build_stdc_seg` network (kwargs "variant",
    "num_classes"). `build_options` add or override settings the tensors cannot tell (e.g.
    output_stride, subdivision_num_points)."""
    options = {**paddleseg_architecture(checkpoint), **build_options}
    model = paddleseg_builder(checkpoint.kind)(**options)
    model.set_state_dict(paddleseg_state_dict(checkpoint, model))
    return model.eval(), options


def load_paddleseg_model(
    path: str | os.PathLike, **build_options: Any
) -> tuple[nn.Layer, dict[str, Any]]:
    """(model in eval mode, its builder kwargs) for a PaddleSeg `model.pdparams`; see
    `paddleseg_model`. The architecture comes from the tensors."""
    return paddleseg_model(read_paddleseg_checkpoint(path), **build_options)
