"""PaddleSeg's Semantic FPN head (`FPNHead` of PaddleSeg 2.8's PointRend).

PaddleSeg runs it on its neck's [L5, P4, P3, P2] (coarsest first) while assuming the strides
[4, 8, 16, 32] of the usual finest-first order, so tower i has max(1, i) convs (3x3 with bias,
ReLU, no norm), each but tower 0's followed by a 2x bilinear upsample. The towers' outputs are
resized (bilinear) to the first map's size and summed; a 1x1 conv predicts the logits. With an
output-stride-8 backbone the towers come out at strides 8, 4, 2 and 0.5 and the logits at stride
8. Convolutions keep Paddle's default init, as PaddleSeg's do.

Shape shorthand: N batch, K classes, C channels, h x w the first map's size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import paddle
import paddle.nn.functional as F
from paddle import nn

from pointrend.models.semantic_fpn_head import Upsample2x

# The strides PaddleSeg's PointRend passes to its FPNHead (PFN_feature_strides).
ASSUMED_STRIDES = (4, 8, 16, 32)


class ConvReLU(nn.Layer):
    """3x3 conv with bias + ReLU (PaddleSeg's ConvModule without norm)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2D(in_channels, out_channels, 3, padding=1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return F.relu(self.conv(x))


class PaddleSegFPNHead(nn.Layer):
    """forward([L5, P4, P3, P2]) -> coarse logits [N, num_classes, h, w] at the first map's size.

    Tower i is `towers.i`, a Sequential whose even entries are ConvReLU and odd entries
    upsamples (PaddleSeg's `scale_heads.i.{0, 2, 4}`).
    """

    def __init__(
        self,
        in_channels: int = 256,
        num_classes: int = 19,
        channels: int = 128,
        assumed_strides: Sequence[int] = ASSUMED_STRIDES,
    ):
        super().__init__()
        towers = []
        for stride in assumed_strides:
            num_upsamples = round(math.log2(stride / assumed_strides[0]))
            layers: list[nn.Layer] = []
            for i in range(max(1, num_upsamples)):
                layers.append(ConvReLU(in_channels if i == 0 else channels, channels))
                if num_upsamples > 0:
                    layers.append(Upsample2x())
            towers.append(nn.Sequential(*layers))
        self.towers = nn.LayerList(towers)
        self.predictor = nn.Conv2D(channels, num_classes, 1)
        self.num_classes = num_classes

    def forward(self, features: Sequence[paddle.Tensor]) -> paddle.Tensor:
        if len(features) != len(self.towers):
            raise ValueError(
                f"PaddleSegFPNHead expects {len(self.towers)} feature maps, got {len(features)}"
            )
        summed = self.towers[0](features[0])
        size = paddle.shape(summed)[2:]
        # Paddle's to_static rewrites zip() into a version without `strict`; the length check
        # above guards this loop instead. LayerList slices at run time; its type information
        # lists int indices only.
        towers = self.towers[1:]  # type: ignore[index]
        for tower, feature in zip(towers, features[1:]):  # noqa: B905
            summed = summed + F.interpolate(
                tower(feature), size=size, mode="bilinear", align_corners=False
            )
        return self.predictor(summed)
