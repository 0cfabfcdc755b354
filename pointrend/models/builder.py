"""build_model: the paper's SemanticFPN + PointRend (or the plain SemanticFPN) from plain arguments,
or PaddleSeg's PointRend layout of the same parts (`PADDLESEG_LAYOUT`)."""

from pointrend.models.fpn import FPN
from pointrend.models.paddleseg_fpn import PaddleSegFPN
from pointrend.models.paddleseg_fpn_head import PaddleSegFPNHead
from pointrend.models.point_head import PointHead
from pointrend.models.pretrained import load_pretrained_backbone
from pointrend.models.resnet import ResNet
from pointrend.models.segmentor import PointRendSegmentor, Segmentor, SemanticFPN
from pointrend.models.semantic_fpn_head import SemanticFPNHead
from pointrend.ops import CELL_COORDS

FPN_LAYOUTS = ("paper", "paddleseg")
# PaddleSeg 2.8's PointRend (ResNet_vd, output stride 8): build_model(**PADDLESEG_LAYOUT,
# backbone_depth=50 or 101) is its architecture, its inference and its training-point sampling.
PADDLESEG_LAYOUT = {
    "backbone_stem": "vd",
    "output_stride": 8,
    "backbone_project_first_block": True,
    "fpn_layout": "paddleseg",
    "head_norm": "none",
    "coarse_pred_each_layer": True,
    "point_head_init": "paddleseg",
    "subdivision_num_points": 8196,  # PaddleSeg's default, not the paper's 8192
    "cell_coords": "steps",
    "size_divisor": 1,  # PaddleSeg runs any input size as it is, without padding
}


def build_model(
    backbone_depth: int = 101,
    backbone_stem: str = "classic",
    norm: str = "bn",
    output_stride: int = 32,
    frozen_stages: int = -1,
    pretrained: str | None = None,
    fpn_channels: int = 256,
    head_channels: int = 128,
    head_norm: str = "gn",
    num_classes: int = 19,
    point_head: bool = True,
    point_head_fc_channels: int = 256,
    point_head_num_fc: int = 3,
    coarse_pred_each_layer: bool = False,
    train_num_points: int = 2048,
    oversample_ratio: float = 3.0,
    importance_ratio: float = 0.75,
    subdivision_steps: int = 2,
    subdivision_num_points: int = 8192,
    backbone_base_channels: int = 64,
    backbone_project_first_block: bool = False,
    fpn_layout: str = "paper",
    point_head_init: str = "paper",
    cell_coords: str = "centre",
    size_divisor: int = 32,
) -> Segmentor:
    """ResNet -> FPN -> Semantic FPN head [-> PointRend point head on the FPN's first output].

    The defaults are the paper's Cityscapes model (ResNet-101, not dilated, FPN P2..P5, head at
    stride 4, 2048 training points, 2 subdivision steps of 8192 points). `pretrained` is a path or
    URL of ImageNet backbone weights (.pdparams, .pkl, .pth or a tar holding a .pdparams;
    PaddleClas, PaddleSeg, torchvision-style, Caffe2 or our own names), loaded strictly.
    `point_head=False` gives the SemanticFPN baseline. `backbone_base_channels` narrows the
    backbone (64 is the standard width; smaller values are for quick experiments and tests).

    PaddleSeg's layout (see PADDLESEG_LAYOUT): `fpn_layout="paddleseg"` builds its FPN neck and
    head (`PaddleSegFPN`, `PaddleSegFPNHead`; `head_norm` must be "none"), whose first output,
    read by the point head, is the top level's lateral; `backbone_project_first_block` gives each
    stage's first block a projection; `point_head_init="paddleseg"` keeps Paddle's default init;
    `cell_coords` is how refined cells get their coordinates ("centre" or PaddleSeg's "steps");
    `size_divisor` is the multiple inputs are padded to in eval (1: none).
    """
    if fpn_layout not in FPN_LAYOUTS:
        raise ValueError(f"fpn_layout must be one of {FPN_LAYOUTS}, got {fpn_layout!r}")
    if fpn_layout == "paddleseg" and head_norm != "none":
        raise ValueError(
            f"PaddleSeg's FPN head has no norm: head_norm must be 'none', got {head_norm!r}"
        )
    if cell_coords not in CELL_COORDS:
        raise ValueError(f"cell_coords must be one of {CELL_COORDS}, got {cell_coords!r}")
    if size_divisor < 1:
        raise ValueError(f"size_divisor must be >= 1, got {size_divisor}")
    backbone = ResNet(
        backbone_depth,
        stem=backbone_stem,
        norm=norm,
        output_stride=output_stride,
        frozen_stages=frozen_stages,
        base_channels=backbone_base_channels,
        project_first_block=backbone_project_first_block,
    )
    if pretrained:
        load_pretrained_backbone(backbone, pretrained, strict=True)
    neck: FPN | PaddleSegFPN
    coarse_head: SemanticFPNHead | PaddleSegFPNHead
    if fpn_layout == "paddleseg":
        # Frozen statistics are for a pretrained backbone; the neck starts untrained.
        neck = PaddleSegFPN(
            backbone.out_channels,
            fpn_channels,
            in_strides=backbone.out_strides,
            norm="bn" if norm == "frozen_bn" else norm,
        )
        coarse_head = PaddleSegFPNHead(fpn_channels, num_classes, head_channels)
    else:
        neck = FPN(backbone.out_channels, fpn_channels, in_strides=backbone.out_strides)
        coarse_head = SemanticFPNHead(
            fpn_channels, num_classes, head_channels, head_norm, in_strides=neck.out_strides
        )
    if not point_head:
        return SemanticFPN(backbone, neck, coarse_head, size_divisor=size_divisor)
    head = PointHead(
        fpn_channels,
        num_classes,
        point_head_fc_channels,
        point_head_num_fc,
        coarse_pred_each_layer,
        init=point_head_init,
    )
    return PointRendSegmentor(
        backbone,
        neck,
        coarse_head,
        head,
        train_num_points=train_num_points,
        oversample_ratio=oversample_ratio,
        importance_ratio=importance_ratio,
        subdivision_steps=subdivision_steps,
        subdivision_num_points=subdivision_num_points,
        size_divisor=size_divisor,
        cell_coords=cell_coords,
    )
