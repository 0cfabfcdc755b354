"""ResNet-18/34/50/101 backbones returning the C2..C5 feature maps.

Three stems:
  "classic": one 7x7 conv (the original ResNet; detectron2 also puts the stride of a bottleneck
             in its first 1x1 conv, as the MSRA weights expect),
  "deep":    three 3x3 convs (ResNet-V1c, as mmsegmentation uses),
  "vd":      the deep stem plus shortcuts that average-pool before their 1x1 conv instead of
             striding it (ResNet_vd, the layout of PaddleClas' ImageNet weights).
"""

import paddle
import paddle.nn as nn

from pointrend.models.norm import build_norm, freeze_norms

STEMS = ("classic", "deep", "vd")
STAGE_BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
# Strides of (res4, res5) and the dilations that keep the receptive field, per output stride.
DILATED_STAGES = {32: ((2, 1), (2, 1)), 16: ((2, 1), (1, 2)), 8: ((1, 2), (1, 4))}


def conv3x3(in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1) -> nn.Conv2D:
    return nn.Conv2D(
        in_channels,
        out_channels,
        3,
        stride=stride,
        padding=dilation,
        dilation=dilation,
        bias_attr=False,
        weight_attr=nn.initializer.KaimingNormal(mode="fan_out"),
    )


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2D:
    return nn.Conv2D(
        in_channels,
        out_channels,
        1,
        stride=stride,
        bias_attr=False,
        weight_attr=nn.initializer.KaimingNormal(mode="fan_out"),
    )


class Shortcut(nn.Layer):
    """Projection shortcut: 1x1 conv + norm, optionally after a 2x2 average pool (ResNet_vd)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, norm: str, avg_down: bool):
        super().__init__()
        pool_first = avg_down and stride > 1
        self.pool = nn.AvgPool2D(stride, stride, ceil_mode=True) if pool_first else None
        self.conv = conv1x1(in_channels, out_channels, stride=1 if pool_first else stride)
        self.norm = build_norm(norm, out_channels)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        if self.pool is not None:
            x = self.pool(x)
        return self.norm(self.conv(x))


class BasicBlock(nn.Layer):
    """Two 3x3 convs (ResNet-18/34)."""

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int,
        dilation: int,
        norm: str,
        avg_down: bool,
        stride_in_1x1: bool,
        project: bool = False,
    ):
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = conv3x3(in_channels, channels, stride, dilation)
        self.norm1 = build_norm(norm, channels)
        self.conv2 = conv3x3(channels, out_channels, 1, dilation)
        self.norm2 = build_norm(norm, out_channels)
        self.relu = nn.ReLU()
        needs_projection = project or stride != 1 or in_channels != out_channels
        self.shortcut = (
            Shortcut(in_channels, out_channels, stride, norm, avg_down)
            if needs_projection
            else None
        )

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        identity = x if self.shortcut is None else self.shortcut(x)
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Layer):
    """1x1 reduce, 3x3, 1x1 expand (ResNet-50/101); the stride sits in the first 1x1 or in the
    3x3."""

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int,
        dilation: int,
        norm: str,
        avg_down: bool,
        stride_in_1x1: bool,
        project: bool = False,
    ):
        super().__init__()
        out_channels = channels * self.expansion
        stride_1x1, stride_3x3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = conv1x1(in_channels, channels, stride_1x1)
        self.norm1 = build_norm(norm, channels)
        self.conv2 = conv3x3(channels, channels, stride_3x3, dilation)
        self.norm2 = build_norm(norm, channels)
        self.conv3 = conv1x1(channels, out_channels)
        self.norm3 = build_norm(norm, out_channels)
        self.relu = nn.ReLU()
        needs_projection = project or stride != 1 or in_channels != out_channels
        self.shortcut = (
            Shortcut(in_channels, out_channels, stride, norm, avg_down)
            if needs_projection
            else None
        )

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        identity = x if self.shortcut is None else self.shortcut(x)
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.relu(self.norm2(self.conv2(out)))
        out = self.norm3(self.conv3(out))
        return self.relu(out + identity)


class Stem(nn.Layer):
    """Stride-4 entry: a 7x7 conv ("classic") or three 3x3 convs ("deep", "vd"), then a 3x3 max
    pool."""

    def __init__(self, stem: str, out_channels: int, norm: str):
        super().__init__()
        if stem == "classic":
            widths = [(3, out_channels, 7, 2)]
        else:
            half = out_channels // 2
            widths = [(3, half, 3, 2), (half, half, 3, 1), (half, out_channels, 3, 1)]
        self.num_convs = len(widths)
        for i, (cin, cout, kernel, stride) in enumerate(widths, start=1):
            conv = nn.Conv2D(
                cin,
                cout,
                kernel,
                stride=stride,
                padding=kernel // 2,
                bias_attr=False,
                weight_attr=nn.initializer.KaimingNormal(mode="fan_out"),
            )
            setattr(self, f"conv{i}", conv)
            setattr(self, f"norm{i}", build_norm(norm, cout))
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2D(3, stride=2, padding=1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        for i in range(1, self.num_convs + 1):
            x = self.relu(getattr(self, f"norm{i}")(getattr(self, f"conv{i}")(x)))
        return self.pool(x)


class ResNet(nn.Layer):
    """ResNet backbone: forward(images [N, 3, H, W]) -> [C2, C3, C4, C5].

    Args:
        depth: 18, 34, 50 or 101.
        stem: "classic", "deep" or "vd" (see the module docstring).
        norm: "bn", "syncbn" or "frozen_bn".
        output_stride: 32 (plain), 16 or 8 (the last stages dilated instead of strided).
        frozen_stages: -1 trains everything; 0 freezes the stem; k > 0 also freezes res2..res(k+1).
            Frozen parts get no gradient and their norms become FrozenBatchNorm2D.
        stride_in_1x1: where a bottleneck strides; None means the 1x1 for "classic" (MSRA/detectron2
            weights) and the 3x3 otherwise (torchvision, V1c and PaddleClas weights).
        base_channels: width of res2 before expansion (64 for the standard networks).
        project_first_block: give the first block of every stage a projection shortcut even where
            the identity fits (ResNet-18/34 res2, 64 -> 64), as PaddleSeg's ResNet_vd does.

    Attributes `out_channels` and `out_strides` list the channels and strides of C2..C5.
    """

    def __init__(
        self,
        depth: int = 50,
        stem: str = "classic",
        norm: str = "bn",
        output_stride: int = 32,
        frozen_stages: int = -1,
        stride_in_1x1: bool | None = None,
        base_channels: int = 64,
        project_first_block: bool = False,
    ):
        super().__init__()
        if depth not in STAGE_BLOCKS:
            raise ValueError(f"ResNet depth must be one of {sorted(STAGE_BLOCKS)}, got {depth}")
        if stem not in STEMS:
            raise ValueError(f"ResNet stem must be one of {STEMS}, got {stem!r}")
        if output_stride not in DILATED_STAGES:
            raise ValueError(
                f"ResNet output_stride must be one of {sorted(DILATED_STAGES)}, got {output_stride}"
            )
        if not -1 <= frozen_stages <= 4:
            raise ValueError(f"ResNet frozen_stages must be in [-1, 4], got {frozen_stages}")
        block = BasicBlock if depth < 50 else Bottleneck
        if stride_in_1x1 is None:
            stride_in_1x1 = stem == "classic"
        avg_down = stem == "vd"
        (stride4, dilation4), (stride5, dilation5) = DILATED_STAGES[output_stride]
        strides, dilations = (1, 2, stride4, stride5), (1, 1, dilation4, dilation5)

        self.depth, self.stem_type = depth, stem
        self.stem = Stem(stem, base_channels, norm)
        self.stage_names: list[str] = []
        self.out_channels: list[int] = []
        self.out_strides: list[int] = []
        in_channels, total_stride = base_channels, 4
        for index, num_blocks in enumerate(STAGE_BLOCKS[depth]):
            channels = base_channels * 2**index
            blocks = []
            for i in range(num_blocks):
                blocks.append(
                    block(
                        in_channels,
                        channels,
                        strides[index] if i == 0 else 1,
                        dilations[index],
                        norm,
                        avg_down,
                        stride_in_1x1,
                        project=project_first_block and i == 0,
                    )
                )
                in_channels = channels * block.expansion
            name = f"res{index + 2}"
            setattr(self, name, nn.Sequential(*blocks))
            total_stride *= strides[index]
            self.stage_names.append(name)
            self.out_channels.append(in_channels)
            self.out_strides.append(total_stride)
        self.frozen_stages = frozen_stages
        self._freeze(frozen_stages)

    def _freeze(self, frozen_stages: int) -> None:
        if frozen_stages < 0:
            return
        frozen = [self.stem] + [getattr(self, name) for name in self.stage_names[:frozen_stages]]
        for layer in frozen:
            freeze_norms(layer)
            for param in layer.parameters():
                param.stop_gradient = True

    def forward(self, images: paddle.Tensor) -> list[paddle.Tensor]:
        x = self.stem(images)
        features = []
        for name in self.stage_names:
            x = getattr(self, name)(x)
            features.append(x)
        return features
