"""Real-time PointRend: STDC-Seg as the coarse head of `PointRendSegmentor`.

STDC-Seg predicts at stride 8, where thin poles, signs and object outlines are the first thing
lost; the point head re-predicts the uncertain points from the coarse logits and a backbone map,
and adaptive subdivision takes the prediction to full resolution (3 steps from stride 8).

Shape shorthand: N batch, K classes, C channels, H x W input, P points.
"""

from __future__ import annotations

import paddle
from paddle import nn

from pointrend.models.point_head import PointHead
from pointrend.models.segmentor import PointRendSegmentor
from pointrend.models.stdc import STDCNet
from pointrend.models.stdc_seg import STDCSeg, build_stdc_seg
from pointrend.ops import point_sample, sample_points_for_training

# Backbone strides the point head may read: stride 8 is the map STDC's detail loss trains to carry
# boundaries (256 channels); stride 4 is the second stem conv (64 channels, 7x7 receptive field).
FINE_FEATURE_STRIDES = (4, 8)
# STDC's stride-32 context path needs inputs that are multiples of 32 for aligned feature maps.
STDC_SIZE_DIVISOR = 32


def fine_feature_level(backbone: STDCNet, stride: int) -> int:
    """Index of the backbone output at `stride` (4 or 8) among its maps at strides 2..32."""
    if stride not in FINE_FEATURE_STRIDES:
        raise ValueError(
            f"model.fine_feature_stride must be one of {FINE_FEATURE_STRIDES} for STDC, got "
            f"{stride}"
        )
    return backbone.out_strides.index(stride)


class STDCPointRend(PointRendSegmentor):
    """STDC-Seg (`backbone`, the whole network: context path, fusion, main, auxiliary and detail
    heads, under PaddleSeg's names) refined by a point head on the backbone map at
    `fine_feature_stride` (4 or 8) and the stride-8 main logits.

    Training mode: forward(images) -> (logits [N, K, H/8, W/8], aux8 logits [N, K, H/8, W/8],
    aux16 logits [N, K, H/16, W/16], detail logits [N, 1, H/8, W/8], point logits [N, K, P],
    point coords [N, P, 2]): STDC-Seg's four training outputs, then the points chosen by
    importance sampling on the main logits, as `STDCPointRendLoss` expects.

    Eval mode: logits [N, K, H, W] by adaptive subdivision of the stride-8 main logits, or by
    bilinear upsampling (align_corners=False, as subdivision's own) when `subdivision_steps` is 0.
    """

    def __init__(
        self,
        stdc: STDCSeg,
        point_head: nn.Layer,
        fine_feature_stride: int = 8,
        train_num_points: int = 2048,
        oversample_ratio: float = 3.0,
        importance_ratio: float = 0.75,
        subdivision_steps: int = 3,
        subdivision_num_points: int = 8192,
    ):
        super().__init__(
            stdc,
            None,
            None,
            point_head,
            train_num_points=train_num_points,
            oversample_ratio=oversample_ratio,
            importance_ratio=importance_ratio,
            subdivision_steps=subdivision_steps,
            subdivision_num_points=subdivision_num_points,
            size_divisor=STDC_SIZE_DIVISOR,
            fine_feature_level=fine_feature_level(stdc.cp.backbone, fine_feature_stride),
        )

    def extract(self, images: paddle.Tensor) -> tuple[list[paddle.Tensor], paddle.Tensor]:
        """(the backbone maps at strides 2..32, the main logits [N, K, H/8, W/8])."""
        features, logits = self.backbone.extract(images)
        return features.backbone, logits

    def forward_train(self, images: paddle.Tensor) -> tuple[paddle.Tensor, ...]:
        height, width = images.shape[2], images.shape[3]
        if height % self.size_divisor or width % self.size_divisor:
            raise ValueError(
                f"training images must have height and width divisible by {self.size_divisor}, got "
                f"{height}x{width}: choose a crop size that is a multiple of {self.size_divisor}"
            )
        stdc = self.backbone
        features, logits = stdc.extract(images)
        point_coords = sample_points_for_training(
            logits, self.train_num_points, self.oversample_ratio, self.importance_ratio
        )
        fine = point_sample(features.backbone[self.fine_feature_level], point_coords)
        point_logits = self.point_head(fine, point_sample(logits, point_coords))
        return (
            logits,
            stdc.conv_out8(features.context8),
            stdc.conv_out16(features.context16),
            stdc.conv_out_sp8(features.backbone[2]),
            point_logits,
            point_coords,
        )


def build_stdc_network(
    variant: str = "stdc2",
    num_classes: int = 19,
    pretrained: str | None = None,
    point_head: bool = False,
    fine_feature_stride: int = 8,
    point_head_fc_channels: int = 256,
    point_head_num_fc: int = 3,
    coarse_pred_each_layer: bool = False,
    train_num_points: int = 2048,
    oversample_ratio: float = 3.0,
    importance_ratio: float = 0.75,
    subdivision_steps: int = 3,
    subdivision_num_points: int = 8192,
) -> STDCSeg | STDCPointRend:
    """STDC-Seg (`point_head=False`) or STDC-Seg + PointRend on STDC1 / STDC2.

    `pretrained` is the ImageNet backbone weights (see `build_stdc_seg`).
    """
    stdc = build_stdc_seg(variant, num_classes, pretrained=pretrained)
    if not point_head:
        return stdc
    backbone = stdc.cp.backbone
    fine_channels = backbone.out_channels[fine_feature_level(backbone, fine_feature_stride)]
    head = PointHead(
        fine_channels,
        num_classes,
        point_head_fc_channels,
        point_head_num_fc,
        coarse_pred_each_layer,
    )
    return STDCPointRend(
        stdc,
        head,
        fine_feature_stride=fine_feature_stride,
        train_num_points=train_num_points,
        oversample_ratio=oversample_ratio,
        importance_ratio=importance_ratio,
        subdivision_steps=subdivision_steps,
        subdivision_num_points=subdivision_num_points,
    )
