"""Semantic FPN coarse head (Kirillov et al. 2019, "Panoptic Feature Pyramid Networks")."""

import math
from collections.abc import Sequence

import paddle
import paddle.nn as nn

from pointrend.ops.resize import upsample_bilinear_any_mode

HEAD_NORMS = ("gn", "bn")


class ConvNormReLU(nn.Sequential):
    """3x3 conv + GroupNorm(32) or BatchNorm + ReLU."""

    def __init__(self, in_channels: int, out_channels: int, norm: str):
        if norm not in HEAD_NORMS:
            raise ValueError(f"head norm must be one of {HEAD_NORMS}, got {norm!r}")
        norm_layer = (
            nn.GroupNorm(min(32, out_channels), out_channels)
            if norm == "gn"
            else nn.BatchNorm2D(out_channels)
        )
        super().__init__(
            nn.Conv2D(
                in_channels,
                out_channels,
                3,
                padding=1,
                bias_attr=False,
                weight_attr=nn.initializer.KaimingNormal(mode="fan_out"),
            ),
            norm_layer,
            nn.ReLU(),
        )


class Upsample2x(nn.Layer):
    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return upsample_bilinear_any_mode(x, 2)


class SemanticFPNHead(nn.Layer):
    """Per pyramid level, a tower of (3x3 conv + norm + ReLU [+ 2x bilinear upsample]) down to the
    finest stride (one conv for P2, one for P3, two for P4, three for P5), then the sum of the
    towers, then a 1x1 predictor.

    forward([P2, P3, P4, P5]) -> coarse logits [N, num_classes, H/4, W/4].
    """

    def __init__(
        self,
        in_channels: int = 256,
        num_classes: int = 19,
        channels: int = 128,
        norm: str = "gn",
        in_strides: Sequence[int] = (4, 8, 16, 32),
    ):
        super().__init__()
        self.output_stride = in_strides[0]
        towers = []
        for stride in in_strides:
            num_upsamples = int(round(math.log2(stride / self.output_stride)))
            layers: list[nn.Layer] = []
            for i in range(max(1, num_upsamples)):
                layers.append(ConvNormReLU(in_channels if i == 0 else channels, channels, norm))
                if i < num_upsamples:
                    layers.append(Upsample2x())
            towers.append(nn.Sequential(*layers))
        self.towers = nn.LayerList(towers)
        self.predictor = nn.Conv2D(
            channels,
            num_classes,
            1,
            weight_attr=nn.initializer.KaimingNormal(mode="fan_out"),
            bias_attr=nn.initializer.Constant(0.0),
        )
        self.num_classes = num_classes

    def forward(self, features: Sequence[paddle.Tensor]) -> paddle.Tensor:
        if len(features) != len(self.towers):
            raise ValueError(
                f"SemanticFPNHead expects {len(self.towers)} feature maps, got {len(features)}"
            )
        summed = self.towers[0](features[0])
        # Paddle's to_static rewrites zip() into a version without `strict`; the length check
        # above guards this loop instead. LayerList slices at run time; its type information
        # lists int indices only.
        towers = self.towers[1:]  # type: ignore[index]
        for tower, feature in zip(towers, features[1:]):  # noqa: B905
            summed = summed + tower(feature)
        return self.predictor(summed)
