"""PaddleSeg's FPN neck (`FPNNeck` of PaddleSeg 2.8's PointRend), coarsest level first.

It differs from the paper's FPN (`pointrend.models.fpn`) in ways a PaddleSeg checkpoint depends on:
- laterals are 1x1 conv (with bias) + norm + ReLU; outputs 3x3 conv (no bias) + norm + ReLU;
- the top-down pathway upsamples bilinearly with align_corners=True;
- the top level gets no output conv: the neck returns [C5 lateral, P4, P3, P2], coarsest first.
PaddleSeg also builds an output conv for the top level that never runs; this neck leaves it out.
Convolutions keep Paddle's default init, as PaddleSeg's do.

Shape shorthand: N batch, C channels, h_i x w_i the size of level i.
"""

from __future__ import annotations

from collections.abc import Sequence

import paddle
import paddle.nn.functional as F
from paddle import nn

from pointrend.models.norm import build_norm


class PaddleSegFPN(nn.Layer):
    """forward([C2, C3, C4, C5]) -> [L5, P4, P3, P2], each [N, out_channels, h_i, w_i].

    L5 is the top level's lateral; `out_strides` lists the strides in that (reversed) order.
    `norm` names the norm layers ("bn", "syncbn" or "frozen_bn").
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: int = 256,
        in_strides: Sequence[int] = (4, 8, 16, 32),
        norm: str = "bn",
    ):
        super().__init__()
        if len(in_channels) != len(in_strides):
            raise ValueError(
                f"PaddleSegFPN: {len(in_channels)} input channel counts but {len(in_strides)} "
                "strides"
            )
        self.lateral_convs = nn.LayerList(
            [
                nn.Sequential(
                    nn.Conv2D(c, out_channels, 1), build_norm(norm, out_channels), nn.ReLU()
                )
                for c in in_channels
            ]
        )
        # One per level below the top; the top level is returned as its lateral.
        self.output_convs = nn.LayerList(
            [
                nn.Sequential(
                    nn.Conv2D(out_channels, out_channels, 3, padding=1, bias_attr=False),
                    build_norm(norm, out_channels),
                    nn.ReLU(),
                )
                for _ in in_channels[:-1]
            ]
        )
        self.out_channels = out_channels
        self.out_strides = list(reversed(in_strides))

    def forward(self, features: Sequence[paddle.Tensor]) -> list[paddle.Tensor]:
        if len(features) != len(self.lateral_convs):
            raise ValueError(
                f"PaddleSegFPN expects {len(self.lateral_convs)} feature maps, got {len(features)}"
            )
        merged = self.lateral_convs[-1](features[-1])
        outputs = [merged]
        for level in range(len(features) - 2, -1, -1):
            lateral = self.lateral_convs[level](features[level])
            upsampled = F.interpolate(
                merged, size=paddle.shape(lateral)[2:], mode="bilinear", align_corners=True
            )
            merged = lateral + upsampled
            outputs.append(self.output_convs[level](merged))
        return outputs
