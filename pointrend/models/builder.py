"""build_model: the paper's SemanticFPN + PointRend (or the plain SemanticFPN) from plain arguments."""
from typing import Optional

from pointrend.models.fpn import FPN
from pointrend.models.point_head import PointHead
from pointrend.models.pretrained import load_pretrained_backbone
from pointrend.models.resnet import ResNet
from pointrend.models.segmentor import PointRendSegmentor, SemanticFPN
from pointrend.models.semantic_fpn_head import SemanticFPNHead


def build_model(
    backbone_depth: int = 101,
    backbone_stem: str = "classic",
    norm: str = "bn",
    output_stride: int = 32,
    frozen_stages: int = -1,
    pretrained: Optional[str] = None,
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
) -> PointRendSegmentor:
    """ResNet -> FPN (P2..P5) -> Semantic FPN head at stride 4 [-> PointRend point head on P2].

    The defaults are the paper's Cityscapes model (ResNet-101, not dilated, 2048 training points,
    2 subdivision steps of 8192 points). `pretrained` is a path or URL of ImageNet backbone
    weights (.pdparams; PaddleClas, torchvision-style or our own names), loaded strictly.
    `point_head=False` gives the SemanticFPN baseline. `backbone_base_channels` narrows the
    backbone (64 is the standard width; smaller values are for quick experiments and tests).
    """
    backbone = ResNet(backbone_depth, stem=backbone_stem, norm=norm, output_stride=output_stride,
                      frozen_stages=frozen_stages, base_channels=backbone_base_channels)
    if pretrained:
        load_pretrained_backbone(backbone, pretrained, strict=True)
    neck = FPN(backbone.out_channels, fpn_channels, in_strides=backbone.out_strides)
    coarse_head = SemanticFPNHead(fpn_channels, num_classes, head_channels, head_norm, in_strides=neck.out_strides)
    if not point_head:
        return SemanticFPN(backbone, neck, coarse_head)
    head = PointHead(fpn_channels, num_classes, point_head_fc_channels, point_head_num_fc, coarse_pred_each_layer)
    return PointRendSegmentor(
        backbone, neck, coarse_head, head,
        train_num_points=train_num_points, oversample_ratio=oversample_ratio, importance_ratio=importance_ratio,
        subdivision_steps=subdivision_steps, subdivision_num_points=subdivision_num_points)
