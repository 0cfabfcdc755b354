"""STDC-Seg (Fan et al., CVPR 2021): an STDC backbone, a BiSeNet-style context path and feature
fusion, the main head at stride 8, two auxiliary heads and the detail head for training.

Layer names and construction order follow PaddleSeg 2.8's `STDCSeg(num_classes, backbone=STDC1()
or STDC2(), use_boundary_8=True)`, so its Cityscapes checkpoints load 1:1 (`cp.backbone.features.*`,
`cp.arm16`, `ffm`, `conv_out`, ...). Every resize is PaddleSeg's: nearest inside the context path,
bilinear with align_corners=True for the logits.

Shape shorthand: N batch, K classes, H x W input; maps at stride s are ceil(H / s) x ceil(W / s).
"""

from __future__ import annotations

from typing import NamedTuple

import paddle
import paddle.nn.functional as F
from paddle import nn

from pointrend.models.stdc import STDC_STAGE_BLOCKS, STDCNet
from pointrend.models.stdc_pretrained import load_stdc_pretrained
from pointrend.models.stdc_seg_layers import (
    AttentionRefinementModule,
    ConvBNReLUWithBias,
    FeatureFusionModule,
    SegHead,
)

CONTEXT_CHANNELS = 128
FUSED_CHANNELS = 256
AUX_HEAD_CHANNELS = 64


def resize_like(x: paddle.Tensor, reference: paddle.Tensor, mode: str) -> paddle.Tensor:
    """Resize x [N, C, h, w] to reference's spatial size. The size is read with `paddle.shape`,
    so an exported graph keeps it dynamic. Bilinear uses align_corners=True, as PaddleSeg's STDC
    does everywhere; nearest has no such option that matters (Paddle's nearest ignores it)."""
    size = paddle.shape(reference)[2:]
    if mode == "nearest":
        return F.interpolate(x, size=size, mode="nearest")
    return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


class ContextFeatures(NamedTuple):
    """What the heads read: the backbone maps (strides 2..32) and the context path outputs at
    strides 8 and 16 (CONTEXT_CHANNELS each)."""

    backbone: list[paddle.Tensor]
    context8: paddle.Tensor
    context16: paddle.Tensor


class ContextPath(nn.Layer):
    """Backbone + global context + attention refinement of the stride-32 and stride-16 maps, each
    upsampled (nearest) one level and smoothed by a 3x3 ConvBNReLU (`conv_head32`, `conv_head16`).

    At sizes that are not multiples of 32 the nearest upsampling has non-integer ratios
    (e.g. 5x9 -> 9x17); that is what PaddleSeg computes, so it is kept.
    """

    def __init__(self, backbone: STDCNet):
        super().__init__()
        self.backbone = backbone
        channels16, channels32 = backbone.out_channels[3], backbone.out_channels[4]
        self.arm16 = AttentionRefinementModule(channels16, CONTEXT_CHANNELS)
        self.arm32 = AttentionRefinementModule(channels32, CONTEXT_CHANNELS)
        self.conv_head32 = ConvBNReLUWithBias(CONTEXT_CHANNELS, CONTEXT_CHANNELS, 3)
        self.conv_head16 = ConvBNReLUWithBias(CONTEXT_CHANNELS, CONTEXT_CHANNELS, 3)
        self.conv_avg = ConvBNReLUWithBias(channels32, CONTEXT_CHANNELS, 1)

    def forward(self, images: paddle.Tensor) -> ContextFeatures:
        maps = self.backbone(images)
        feature8, feature16, feature32 = maps[2], maps[3], maps[4]
        global_context = self.conv_avg(F.adaptive_avg_pool2d(feature32, 1))
        # PaddleSeg nearest-resizes the 1x1 global context to the stride-32 size: a broadcast.
        sum32 = self.arm32(feature32) + global_context
        context16 = self.conv_head32(resize_like(sum32, feature16, "nearest"))
        sum16 = self.arm16(feature16) + context16
        context8 = self.conv_head16(resize_like(sum16, feature8, "nearest"))
        return ContextFeatures(maps, context8, context16)


class STDCSeg(nn.Layer):
    """STDC-Seg on an STDC backbone.

    Eval mode: forward(images [N, 3, H, W]) -> logits [N, K, H, W], the stride-8 main head output
    resized bilinearly (align_corners=True).

    Training mode: forward(images) -> (logits at stride 8 [N, K, H/8, W/8], auxiliary logits of the
    stride-8 context [N, K, H/8, W/8], auxiliary logits of the stride-16 context
    [N, K, H/16, W/16], detail logits of the stride-8 backbone map [N, 1, H/8, W/8]). PaddleSeg
    resizes the first three to the input inside the model; here `STDCLoss` resizes them to the
    label size with the same bilinear align_corners=True op, so the outputs keep their strides.

    `conv_out_sp16`, `conv_out_sp4` and `conv_out_sp2` (detail heads at other strides) never run:
    PaddleSeg builds them and its checkpoints hold their weights (the published configs train
    only the stride-8 detail head), so they exist for every checkpoint key to load.
    """

    def __init__(self, backbone: STDCNet, num_classes: int):
        super().__init__()
        channels = backbone.out_channels
        self.cp = ContextPath(backbone)
        self.ffm = FeatureFusionModule(channels[2] + CONTEXT_CHANNELS, FUSED_CHANNELS)
        self.conv_out = SegHead(FUSED_CHANNELS, FUSED_CHANNELS, num_classes)
        self.conv_out8 = SegHead(CONTEXT_CHANNELS, AUX_HEAD_CHANNELS, num_classes)
        self.conv_out16 = SegHead(CONTEXT_CHANNELS, AUX_HEAD_CHANNELS, num_classes)
        self.conv_out_sp16 = SegHead(channels[3], AUX_HEAD_CHANNELS, 1)
        self.conv_out_sp8 = SegHead(channels[2], AUX_HEAD_CHANNELS, 1)
        self.conv_out_sp4 = SegHead(channels[1], AUX_HEAD_CHANNELS, 1)
        self.conv_out_sp2 = SegHead(channels[0], AUX_HEAD_CHANNELS, 1)
        self.num_classes = num_classes

    def main_logits(self, features: ContextFeatures) -> paddle.Tensor:
        """Main head on the fused stride-8 backbone map and context: [N, K, H/8, W/8]."""
        return self.conv_out(self.ffm(features.backbone[2], features.context8))

    def extract(self, images: paddle.Tensor) -> tuple[ContextFeatures, paddle.Tensor]:
        """(context path features, the main head's stride-8 logits [N, K, H/8, W/8]): everything
        before the final resize, the part every forward runs."""
        features = self.cp(images)
        return features, self.main_logits(features)

    def coarse_logits(self, images: paddle.Tensor) -> paddle.Tensor:
        """The main head's stride-8 logits [N, K, H/8, W/8] (what eval mode resizes)."""
        return self.extract(images)[1]

    def forward(self, images: paddle.Tensor) -> paddle.Tensor | tuple[paddle.Tensor, ...]:
        features, logits = self.extract(images)
        if not self.training:
            return resize_like(logits, images, "bilinear")
        return (
            logits,
            self.conv_out8(features.context8),
            self.conv_out16(features.context16),
            self.conv_out_sp8(features.backbone[2]),
        )


def build_stdc_seg(
    variant: str = "stdc2",
    num_classes: int = 19,
    pretrained: str | None = None,
    pretrained_sha256: str | None = None,
    cache_dir: str | None = None,
) -> STDCSeg:
    """STDC1-Seg ("stdc1", STDCNet813) or STDC2-Seg ("stdc2", STDCNet1446).

    `pretrained` is a path or URL of ImageNet backbone weights (PaddleSeg's STDCNet1 / STDCNet2
    .tar.gz or their .pdparams, the STDCNet813_73.91 / STDCNet1446_76.47 ports), loaded strictly
    into the backbone; see `load_stdc_pretrained`.
    """
    if variant not in STDC_STAGE_BLOCKS:
        raise ValueError(
            f"STDC-Seg variant must be one of {sorted(STDC_STAGE_BLOCKS)}, got {variant!r}"
        )
    backbone = STDCNet(variant)
    if pretrained:
        load_stdc_pretrained(backbone, pretrained, sha256=pretrained_sha256, cache_dir=cache_dir)
    return STDCSeg(backbone, num_classes)
