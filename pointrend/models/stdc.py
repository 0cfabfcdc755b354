"""STDC backbones (Fan et al., "Rethinking BiSeNet for Real-time Semantic Segmentation", CVPR 2021).

STDC1 is the paper's STDCNet813, STDC2 its STDCNet1446. Layer names follow PaddleSeg 2.8's
`STDCNet` (features.I.conv_list.J.conv / .bn, features.I.avd_layer.{0,1}), so PaddleSeg's ImageNet
and Cityscapes checkpoints load 1:1.

Shape shorthand: N batch, C channels, H x W input.
"""

from __future__ import annotations

import paddle
import paddle.nn as nn

# Blocks per stage (strides 8, 16, 32) of each variant.
STDC_STAGE_BLOCKS = {"stdc1": (2, 2, 2), "stdc2": (4, 5, 3)}
BASE_CHANNELS = 64
# Convs per STDC block: a 1x1 reduction, then 3x3 convs halving the width, all concatenated.
CONVS_PER_BLOCK = 4


class ConvBNReLU(nn.Layer):
    """Conv (no bias: a BN follows) + BN + ReLU, padding kernel // 2; attributes `conv`, `bn`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2D(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            bias_attr=False,
        )
        self.bn = nn.BatchNorm2D(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.relu(self.bn(self.conv(x)))


def block_widths(out_channels: int) -> list[int]:
    """Output widths of a block's convs: [C/2, C/4, C/8, C/8] for 4 convs; they sum to C."""
    widths = [out_channels // 2**i for i in range(1, CONVS_PER_BLOCK)]
    return [*widths, widths[-1]]


class CatBottleneck(nn.Layer):
    """STDC block ("Short-Term Dense Concatenate"): [N, C_in, H, W] -> [N, C_out, H/s, W/s].

    conv_list[0] is a 1x1 conv to C_out/2; each further 3x3 conv halves the width of the previous
    output, and all outputs are concatenated. With stride 2 the first 3x3 conv reads a
    depthwise-strided copy (`avd_layer`: depthwise 3x3 stride-2 conv + BN, no ReLU) and the
    1x1 output joins the concatenation through a 3x3 stride-2 average pool (`skip`).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"CatBottleneck stride must be 1 or 2, got {stride}")
        self.stride = stride
        widths = block_widths(out_channels)
        inputs = [in_channels, *widths[:-1]]
        kernel_sizes = [1] + [3] * (CONVS_PER_BLOCK - 1)
        # conv_list is registered before avd_layer, as in PaddleSeg, so state_dict orders match.
        self.conv_list = nn.LayerList(
            [ConvBNReLU(i, o, k) for i, o, k in zip(inputs, widths, kernel_sizes, strict=True)]
        )
        if stride == 2:
            reduced = widths[0]
            self.avd_layer = nn.Sequential(
                nn.Conv2D(
                    reduced, reduced, 3, stride=2, padding=1, groups=reduced, bias_attr=False
                ),
                nn.BatchNorm2D(reduced),
            )
            # exclusive=True: PaddleSeg's skip pool leaves the zero padding out of the average at
            # the border (the PyTorch STDC counts it, count_include_pad=True).
            self.skip = nn.AvgPool2D(kernel_size=3, stride=2, padding=1, exclusive=True)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        reduced = self.conv_list[0](x)
        out = self.avd_layer(reduced) if self.stride == 2 else reduced
        outputs = [self.skip(reduced) if self.stride == 2 else reduced]
        for index in range(1, len(self.conv_list)):
            out = self.conv_list[index](out)
            outputs.append(out)
        return paddle.concat(outputs, axis=1)


class STDCNet(nn.Layer):
    """STDC backbone: images [N, 3, H, W] -> 5 maps at strides 2, 4, 8, 16, 32 with
    `out_channels` = (32, 64, 256, 512, 1024) channels (sizes ceil(H / stride)).

    `features` is one Sequential, as in PaddleSeg: two stride-2 ConvBNReLU stem layers, then per
    stage one stride-2 CatBottleneck and stride-1 ones (`STDC_STAGE_BLOCKS`). PaddleSeg's older
    STDCNet also had an ImageNet classifier (conv_last, fc, bn, linear); segmentation never ran
    it and PaddleSeg 2.8 no longer builds it, so neither do we.
    """

    def __init__(self, variant: str = "stdc2"):
        super().__init__()
        if variant not in STDC_STAGE_BLOCKS:
            raise ValueError(
                f"STDC variant must be one of {sorted(STDC_STAGE_BLOCKS)}, got {variant!r}"
            )
        self.variant = variant
        stage_blocks = STDC_STAGE_BLOCKS[variant]
        stage_channels = [BASE_CHANNELS * 4 * 2**i for i in range(len(stage_blocks))]
        layers: list[nn.Layer] = [
            ConvBNReLU(3, BASE_CHANNELS // 2, 3, stride=2),
            ConvBNReLU(BASE_CHANNELS // 2, BASE_CHANNELS, 3, stride=2),
        ]
        in_channels = BASE_CHANNELS
        # Index of the last layer of each output (stem layers, then stages) in `features`.
        self.output_layers: list[int] = [0, 1]
        for num_blocks, channels in zip(stage_blocks, stage_channels, strict=True):
            for block in range(num_blocks):
                layers.append(CatBottleneck(in_channels, channels, stride=2 if block == 0 else 1))
                in_channels = channels
            self.output_layers.append(len(layers) - 1)
        self.features = nn.Sequential(*layers)
        self.out_channels = [BASE_CHANNELS // 2, BASE_CHANNELS, *stage_channels]
        self.out_strides = [2, 4, 8, 16, 32]

    def forward(self, images: paddle.Tensor) -> list[paddle.Tensor]:
        outputs = []
        x = images
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.output_layers:
                outputs.append(x)
        return outputs
