"""The architecture of a PaddleSeg checkpoint from its tensor shapes alone, as keyword arguments of
`build_model` (PointRend) or `build_stdc_seg` (STDC-Seg).

PointRend (PaddleSeg constructor argument -> build_model argument):
  ResNet_vd layers (blocks per stage, bottleneck or basic)   -> backbone_depth
  fpn_outplanes                                               -> fpn_channels
  PFN_channels                                                -> head_channels
  num_classes                                                 -> num_classes
  point_out_channels, point_num_fcs, point_coarse_pred_each_layer
                          -> point_head_fc_channels, point_head_num_fc, coarse_pred_each_layer
plus PADDLESEG_LAYOUT. What the shapes cannot tell: the output stride (dilation has no tensors);
every published PaddleSeg PointRend config uses output_stride 8, so that is taken (a caller may
override it). The shapes of every tensor are checked afterwards by the name mapping.
STDC-Seg: STDC1 or STDC2 (blocks in the backbone) and num_classes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pointrend.convert.detectron2.architecture import count_indices
from pointrend.models import PADDLESEG_LAYOUT
from pointrend.models.paddleseg_fpn_head import ASSUMED_STRIDES

BOTTLENECK_DEPTHS: dict[tuple[int, ...], int] = {(3, 4, 6, 3): 50, (3, 4, 23, 3): 101}
BASIC_DEPTHS: dict[tuple[int, ...], int] = {(2, 2, 2, 2): 18, (3, 4, 6, 3): 34}
OTHER_DEPTHS: dict[tuple[int, ...], str] = {
    (3, 8, 36, 3): "ResNet152_vd",
    (3, 12, 48, 3): "ResNet200_vd",
}
# Feature-map modules of STDCNet: 2 stem convs, then the blocks of three stages.
STDC_VARIANTS = {8: "stdc1", 14: "stdc2"}
# PaddleSeg's FPNHead on strides [4, 8, 16, 32]: how many convs each scale head has.
SCALE_HEAD_LENGTHS = tuple(max(1, i) for i in range(len(ASSUMED_STRIDES)))

Shapes = Mapping[str, Sequence[int]]


def shape_of(shapes: Shapes, name: str, source: str) -> tuple[int, ...]:
    if name not in shapes:
        raise ValueError(
            f"{source}: tensor {name} is missing; a PaddleSeg checkpoint of this model has it"
        )
    return tuple(shapes[name])


def infer_pointrend_architecture(shapes: Shapes, source: str = "checkpoint") -> dict[str, Any]:
    """build_model kwargs for a PaddleSeg PointRend checkpoint ({PaddleSeg name: shape})."""
    depth = infer_resnet_vd_depth(shapes, source)
    fpn_channels = shape_of(shapes, "neck.lateral_convs.0.0.weight", source)[0]
    num_classes = shape_of(shapes, "fpnhead.conv_seg.weight", source)[0]
    # Convs sit at the even indices of a scale head (upsamples, without tensors, at the odd ones).
    lengths = tuple(
        sum(f"fpnhead.scale_heads.{i}.{2 * j}._conv.weight" in shapes for j in range(8))
        for i in range(count_indices(shapes, "fpnhead.scale_heads.", ".0._conv.weight"))
    )
    if lengths != SCALE_HEAD_LENGTHS:
        raise ValueError(
            f"{source}: the FPN head has scale heads of {lengths} convs; PointRend's PaddleSeg "
            f"FPNHead (PFN_feature_strides [4, 8, 16, 32]) has {SCALE_HEAD_LENGTHS}"
        )
    head_channels = shape_of(shapes, "fpnhead.scale_heads.0.0._conv.weight", source)[0]
    num_fc = count_indices(shapes, "pointhead.fcs.", "._conv.weight")
    predictor = shape_of(shapes, "pointhead.fc_seg.weight", source)
    if predictor[0] != num_classes:
        raise ValueError(
            f"{source}: the point head predicts {predictor[0]} classes, the FPN head {num_classes}"
        )
    first_in = (
        shape_of(shapes, "pointhead.fcs.0._conv.weight", source)[1] if num_fc else predictor[1]
    )
    if first_in != fpn_channels + num_classes:
        raise ValueError(
            f"{source}: the point head takes {first_in} input channels; reading the neck's first "
            f"output ({fpn_channels}) and the coarse logits ({num_classes}) gives "
            f"{fpn_channels + num_classes} (point_in_channels / point_in_index other than [0]?)"
        )
    fc_channels = (
        shape_of(shapes, "pointhead.fcs.0._conv.weight", source)[0] if num_fc else fpn_channels
    )
    after_first = (
        shape_of(shapes, "pointhead.fcs.1._conv.weight", source)[1] if num_fc > 1 else predictor[1]
    )
    return {
        **PADDLESEG_LAYOUT,
        "backbone_depth": depth,
        "norm": "bn",
        "fpn_channels": fpn_channels,
        "head_channels": head_channels,
        "num_classes": num_classes,
        "point_head": True,
        "point_head_fc_channels": fc_channels,
        "point_head_num_fc": num_fc,
        "coarse_pred_each_layer": bool(num_fc) and after_first == fc_channels + num_classes,
    }


def infer_resnet_vd_depth(shapes: Shapes, source: str) -> int:
    blocks = tuple(
        count_indices(shapes, f"backbone.bb_{stage}_", ".conv0._conv.weight") for stage in range(4)
    )
    bottleneck = "backbone.bb_0_0.conv2._conv.weight" in shapes
    depth = (BOTTLENECK_DEPTHS if bottleneck else BASIC_DEPTHS).get(blocks)
    if depth is None:
        known = OTHER_DEPTHS.get(blocks, "an unknown ResNet_vd")
        raise ValueError(
            f"{source}: the backbone is {known} with {blocks} "
            f"{'bottleneck' if bottleneck else 'basic'} blocks per stage; this package builds "
            "ResNet-18, 34, 50 and 101"
        )
    return depth


def infer_stdc_architecture(shapes: Shapes, source: str = "checkpoint") -> dict[str, Any]:
    """build_stdc_seg kwargs for a PaddleSeg STDC-Seg checkpoint ({PaddleSeg name: shape})."""
    modules = len(
        {name.split(".")[3] for name in shapes if name.startswith("cp.backbone.features.")}
    )
    variant = STDC_VARIANTS.get(modules)
    if variant is None:
        raise ValueError(
            f"{source}: the STDC backbone has {modules} feature modules; STDC1 has 8, STDC2 14"
        )
    num_classes = shape_of(shapes, "conv_out.conv_out.weight", source)[0]
    return {"variant": variant, "num_classes": num_classes}
