"""The architecture of a detectron2 PointRend semantic-segmentation checkpoint, from its tensor
shapes alone, as `build_model` keyword arguments.

What the shapes tell (detectron2 config key -> build_model argument):
  RESNETS.DEPTH (blocks per stage, bottleneck or basic)  -> backbone_depth
  STEM_OUT_CHANNELS = WIDTH_PER_GROUP = RES2_OUT_CHANNELS / 4 -> backbone_base_channels
  FPN.OUT_CHANNELS                                        -> fpn_channels
  SEM_SEG_HEAD.CONVS_DIM, SEM_SEG_HEAD.NORM (GN or BN)    -> head_channels, head_norm
  SEM_SEG_HEAD.NUM_CLASSES                                -> num_classes
  POINT_HEAD.FC_DIM, NUM_FC, COARSE_PRED_EACH_LAYER       -> point_head_fc_channels, _num_fc,
                                                             coarse_pred_each_layer
What they cannot tell, taken as in every detectron2 PointRend config: the classic 7x7 stem with
the stride in the first 1x1 conv of a bottleneck (STRIDE_IN_1X1, the MSRA weights' layout), no
res5 dilation, the point head reading P2 only. The backbone gets FrozenBatchNorm like detectron2's
(RESNETS.NORM "FrozenBN"; a BN-trained backbone computes the same in eval mode). Sampling and
subdivision settings are not weights: callers add them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

BOTTOM_UP = "backbone.bottom_up."
COARSE_HEAD = "sem_seg_head.coarse_sem_seg_head."
POINT_HEAD = "sem_seg_head.point_head."
BOTTLENECK_DEPTHS: dict[tuple[int, ...], int] = {(3, 4, 6, 3): 50, (3, 4, 23, 3): 101}
BASIC_DEPTHS: dict[tuple[int, ...], int] = {(2, 2, 2, 2): 18, (3, 4, 6, 3): 34}
OTHER_DEPTHS: dict[tuple[int, ...], str] = {(3, 8, 36, 3): "ResNet-152"}
FPN_LEVELS = (2, 3, 4, 5)

Shapes = Mapping[str, Sequence[int]]


def infer_architecture(shapes: Shapes, source: str = "checkpoint") -> dict[str, Any]:
    """build_model kwargs for the checkpoint whose tensors have `shapes` ({detectron2 name: shape}).

    Raises a one-line ValueError naming what this package cannot build (deformable or grouped
    convolutions, another depth, an FPN with norm or extra levels, a head without norm...).
    """
    backbone = infer_backbone(shapes, source)
    fpn_channels = infer_fpn_channels(shapes, source)
    head_channels, head_norm, num_classes = infer_coarse_head(shapes, source)
    point_head = infer_point_head(shapes, source, fpn_channels, num_classes)
    return {
        **backbone,
        "fpn_channels": fpn_channels,
        "head_channels": head_channels,
        "head_norm": head_norm,
        "num_classes": num_classes,
        **point_head,
    }


def shape_of(shapes: Shapes, name: str, source: str) -> tuple[int, ...]:
    if name not in shapes:
        raise ValueError(
            f"{source}: tensor {name} is missing; a detectron2 PointRend "
            "semantic-segmentation checkpoint has it"
        )
    return tuple(shapes[name])


def infer_backbone(shapes: Shapes, source: str) -> dict[str, Any]:
    if any(".conv2_offset." in name or ".conv2.offset" in name for name in shapes):
        raise ValueError(
            f"{source}: the backbone has deformable convolutions "
            "(RESNETS.DEFORM_ON_PER_STAGE), which this ResNet does not support"
        )
    if f"{BOTTOM_UP}stem.conv2.weight" in shapes:
        raise ValueError(
            f"{source}: the backbone has a 3-conv stem (DeepLab's); detectron2's "
            "PointRend uses the 7x7 stem, which is what this converter builds"
        )
    blocks = tuple(
        count_indices(shapes, f"{BOTTOM_UP}res{stage}.", ".conv1.weight") for stage in range(2, 6)
    )
    bottleneck = f"{BOTTOM_UP}res2.0.conv3.weight" in shapes
    depth = (BOTTLENECK_DEPTHS if bottleneck else BASIC_DEPTHS).get(blocks)
    if depth is None:
        known = OTHER_DEPTHS.get(blocks, "an unknown ResNet")
        raise ValueError(
            f"{source}: the backbone is {known} with {blocks} "
            f"{'bottleneck' if bottleneck else 'basic'} blocks per stage; this package "
            "builds ResNet-18, 34, 50 and 101"
        )
    stem = shape_of(shapes, f"{BOTTOM_UP}stem.conv1.weight", source)
    width = shape_of(shapes, f"{BOTTOM_UP}res2.0.conv1.weight", source)[0]
    second = shape_of(shapes, f"{BOTTOM_UP}res2.0.conv2.weight", source)
    if bottleneck and second[1] != second[0]:
        raise ValueError(
            f"{source}: the bottlenecks use grouped 3x3 convolutions ({second[0]} "
            f"channels in {second[0] // second[1]} groups, ResNeXt); not supported"
        )
    expansion = 4 if bottleneck else 1
    last = "conv3" if bottleneck else "conv2"
    res2_out = shape_of(shapes, f"{BOTTOM_UP}res2.0.{last}.weight", source)[0]
    if stem[0] != width or res2_out != expansion * width or stem[1:] != (3, 7, 7):
        raise ValueError(
            f"{source}: a stem of shape {stem}, res2 {width} channels wide with {res2_out} "
            "outputs; this ResNet needs a 7x7 stem on 3 channels as wide as res2, and res2 "
            f"outputs {expansion}x its width (detectron2: STEM_OUT_CHANNELS = WIDTH_PER_GROUP, "
            f"RES2_OUT_CHANNELS = {expansion} x WIDTH_PER_GROUP)"
        )
    return {
        "backbone_depth": depth,
        "backbone_stem": "classic",
        "norm": "frozen_bn",
        "output_stride": 32,
        "backbone_base_channels": width,
    }


def infer_fpn_channels(shapes: Shapes, source: str) -> int:
    extra = sorted(
        name
        for name in shapes
        if name.startswith("backbone.")
        and not name.startswith(BOTTOM_UP)
        and not name.startswith(
            tuple(
                f"backbone.fpn_{kind}{level}."
                for kind in ("lateral", "output")
                for level in FPN_LEVELS
            )
        )
    )
    if extra:
        raise ValueError(
            f"{source}: the FPN has tensors this one does not ({', '.join(extra[:4])}"
            f"{', ...' if len(extra) > 4 else ''}): an FPN with norm or extra levels"
        )
    return shape_of(shapes, "backbone.fpn_lateral2.weight", source)[0]


def infer_coarse_head(shapes: Shapes, source: str) -> tuple[int, str, int]:
    """(channels, norm, num_classes) of the Semantic FPN head."""
    channels = shape_of(shapes, f"{COARSE_HEAD}p2.0.weight", source)[0]
    if f"{COARSE_HEAD}p2.0.norm.running_mean" in shapes:
        norm = "bn"
    elif f"{COARSE_HEAD}p2.0.norm.weight" in shapes:
        norm = "gn"
    else:
        raise ValueError(
            f"{source}: the coarse head's convs have no norm (SEM_SEG_HEAD.NORM ''); "
            "this head has GroupNorm or BatchNorm"
        )
    num_classes = shape_of(shapes, f"{COARSE_HEAD}predictor.weight", source)[0]
    return channels, norm, num_classes


def infer_point_head(
    shapes: Shapes, source: str, fpn_channels: int, num_classes: int
) -> dict[str, Any]:
    num_fc = count_indices(shapes, f"{POINT_HEAD}fc", ".weight", first=1)
    predictor = shape_of(shapes, f"{POINT_HEAD}predictor.weight", source)
    if predictor[0] != num_classes:
        raise ValueError(
            f"{source}: the point head predicts {predictor[0]} classes, the coarse head "
            f"{num_classes}"
        )
    first_in = shape_of(shapes, f"{POINT_HEAD}fc1.weight", source)[1] if num_fc else predictor[1]
    if first_in != fpn_channels + num_classes:
        raise ValueError(
            f"{source}: the point head takes {first_in} input channels; reading P2 "
            f"({fpn_channels}) and the coarse logits ({num_classes}) gives "
            f"{fpn_channels + num_classes} (POINT_HEAD.IN_FEATURES other than [p2]?)"
        )
    fc_channels = shape_of(shapes, f"{POINT_HEAD}fc1.weight", source)[0] if num_fc else fpn_channels
    after_first = (
        shape_of(shapes, f"{POINT_HEAD}fc2.weight", source)[1] if num_fc > 1 else predictor[1]
    )
    if num_fc and after_first not in (fc_channels, fc_channels + num_classes):
        raise ValueError(
            f"{source}: the point head's layers after fc1 take {after_first} channels, "
            f"expected {fc_channels} or {fc_channels + num_classes}"
        )
    return {
        "point_head": True,
        "point_head_fc_channels": fc_channels,
        "point_head_num_fc": num_fc,
        "coarse_pred_each_layer": bool(num_fc) and after_first == fc_channels + num_classes,
    }


def count_indices(shapes: Shapes, prefix: str, suffix: str, first: int = 0) -> int:
    """How many consecutive i >= first have f"{prefix}{i}{suffix}" among the names."""
    count = 0
    while f"{prefix}{first + count}{suffix}" in shapes:
        count += 1
    return count
