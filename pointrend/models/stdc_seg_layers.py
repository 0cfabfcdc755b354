"""Building blocks of the STDC-Seg head: attention refinement, feature fusion, segmentation heads.

Attribute names follow PaddleSeg 2.8 (`paddleseg/models/stdcseg.py`, `layers.ConvBNReLU`) so that
its checkpoints load 1:1. Shape shorthand: N batch, C channels, K classes, h x w a feature map.
"""

from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F


class ConvBNReLUWithBias(nn.Layer):
    """Conv + BN + ReLU whose conv keeps its bias although a BN follows (PaddleSeg's
    `layers.ConvBNReLU` does, and its checkpoints carry `_conv.bias`); attributes `_conv`,
    `_batch_norm`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self._conv = nn.Conv2D(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self._batch_norm = nn.BatchNorm2D(out_channels)
        self._relu = nn.ReLU()

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self._relu(self._batch_norm(self._conv(x)))


class AttentionRefinementModule(nn.Layer):
    """[N, C_in, h, w] -> [N, C_out, h, w]: a 3x3 ConvBNReLU, re-weighted per channel by a sigmoid
    of (global average -> 1x1 conv -> BN)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = ConvBNReLUWithBias(in_channels, out_channels, 3)
        self.conv_atten = nn.Conv2D(out_channels, out_channels, 1)
        self.bn_atten = nn.BatchNorm2D(out_channels)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        feature = self.conv(x)
        attention = self.bn_atten(self.conv_atten(F.adaptive_avg_pool2d(feature, 1)))
        return feature * F.sigmoid(attention)


class FeatureFusionModule(nn.Layer):
    """Fuses the spatial (stride-8 backbone) and context features, both [N, *, h, w], into
    [N, C_out, h, w]: concat -> 1x1 ConvBNReLU -> feature * (1 + channel attention), the attention
    being sigmoid(conv2(relu(conv1(global average)))) with a C_out / 4 bottleneck."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.convblk = ConvBNReLUWithBias(in_channels, out_channels, 1)
        self.conv1 = nn.Conv2D(out_channels, out_channels // 4, 1)
        self.conv2 = nn.Conv2D(out_channels // 4, out_channels, 1)
        self.relu = nn.ReLU()

    def forward(self, spatial: paddle.Tensor, context: paddle.Tensor) -> paddle.Tensor:
        feature = self.convblk(paddle.concat([spatial, context], axis=1))
        attention = self.conv2(self.relu(self.conv1(F.adaptive_avg_pool2d(feature, 1))))
        # PaddleSeg adds the attended feature to the feature (feat * att + feat).
        return feature * F.sigmoid(attention) + feature


class SegHead(nn.Layer):
    """[N, C_in, h, w] -> logits [N, K, h, w]: a 3x3 ConvBNReLU to `mid_channels`, then a 1x1 conv
    with bias (`conv`, `conv_out`)."""

    def __init__(self, in_channels: int, mid_channels: int, num_classes: int):
        super().__init__()
        self.conv = ConvBNReLUWithBias(in_channels, mid_channels, 3)
        self.conv_out = nn.Conv2D(mid_channels, num_classes, 1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.conv_out(self.conv(x))
