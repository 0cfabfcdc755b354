"""STDC's detail aggregation loss: the detail head learns binary boundaries derived from the labels.

Shape shorthand: N batch, H x W label map, h x w detail logits (stride 8).
"""

from __future__ import annotations

from collections.abc import Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

# Strides of the Laplacian boundary maps that are fused. PaddleSeg also computes a stride-8 map
# but never uses it.
BOUNDARY_STRIDES = (1, 2, 4)
# The fixed fusion weights of the authors' PyTorch STDC: a pixel is a boundary when the fine
# (stride 1) or the stride-2 map says so (0.6 or 0.3 > 0.1); the stride-4 map alone (0.1) does not
# pass the > 0.1 test, it only adds to the others. PaddleSeg instead draws the kernel with
# paddle's default Xavier init when the loss is built and never trains it, which makes the
# target depend on the RNG state (a negative weight can even erase boundaries); a fixed,
# documented kernel gives the same target in every run.
DEFAULT_FUSE_WEIGHTS = (0.6, 0.3, 0.1)
BOUNDARY_THRESHOLD = 0.1
DICE_SMOOTH = 1.0


def laplacian_kernel() -> paddle.Tensor:
    """3x3 Laplacian [1, 1, 3, 3]: 8 at the centre, -1 around it."""
    kernel = -paddle.ones([1, 1, 3, 3], dtype="float32")
    kernel[0, 0, 1, 1] = 8.0
    return kernel


def boundary_target(labels: paddle.Tensor, fuse_kernel: paddle.Tensor) -> paddle.Tensor:
    """Binary boundary map float32 [N, 1, H, W] (0 or 1) from labels int [N, H, W].

    For each stride in BOUNDARY_STRIDES: the Laplacian of the label map (ignore pixels, 255, take
    part like any class, as in PaddleSeg), strided, padding 1, thresholded at > 0.1 and
    nearest-upsampled to H x W; the three maps are fused by the 1x1 `fuse_kernel` [1, 3, 1, 1] and
    thresholded at > 0.1 again.
    """
    label_map = labels.astype("float32").unsqueeze(1)
    kernel = laplacian_kernel()
    height_width = label_map.shape[2:]
    maps = []
    for stride in BOUNDARY_STRIDES:
        edges = (F.conv2d(label_map, kernel, stride=stride, padding=1) > BOUNDARY_THRESHOLD).astype(
            "float32"
        )
        if stride > 1:
            edges = F.interpolate(edges, size=height_width, mode="nearest")
        maps.append(edges)
    fused = F.conv2d(paddle.concat(maps, axis=1), fuse_kernel)
    return (fused > BOUNDARY_THRESHOLD).astype("float32")


def dice_loss(probabilities: paddle.Tensor, target: paddle.Tensor) -> paddle.Tensor:
    """1 - (2 |p t| + 1) / (|p| + |t| + 1) per sample, averaged over the batch; both [N, ...]."""
    probabilities = probabilities.flatten(1)
    target = target.flatten(1)
    intersection = (probabilities * target).sum(axis=1)
    total = probabilities.sum(axis=1) + target.sum(axis=1)
    return (1.0 - (2.0 * intersection + DICE_SMOOTH) / (total + DICE_SMOOTH)).mean()


class DetailAggregateLoss(nn.Layer):
    """loss(detail_logits [N, 1, h, w], labels [N, H, W] or [N, 1, H, W]) -> 0-d tensor:
    BCE-with-logits (mean) + dice between the logits, resized bilinearly (align_corners=True)
    to H x W, and `boundary_target(labels)`.

    `fuse_weights` (3 values, for strides 1, 2, 4) set the fixed fusion kernel; pass PaddleSeg's
    drawn `fuse_kernel` values to reproduce one of its runs exactly.
    """

    def __init__(self, fuse_weights: Sequence[float] = DEFAULT_FUSE_WEIGHTS):
        super().__init__()
        if len(fuse_weights) != len(BOUNDARY_STRIDES):
            raise ValueError(
                f"fuse_weights needs {len(BOUNDARY_STRIDES)} values (strides {BOUNDARY_STRIDES}), "
                f"got {list(fuse_weights)}"
            )
        kernel = paddle.to_tensor([float(w) for w in fuse_weights], dtype="float32").reshape(
            [1, -1, 1, 1]
        )
        # A buffer, not a parameter: the kernel is never trained (nor is PaddleSeg's).
        self.register_buffer("fuse_kernel", kernel, persistable=False)

    def boundary_target(self, labels: paddle.Tensor) -> paddle.Tensor:
        """float32 [N, 1, H, W] of 0 / 1; labels [N, H, W] or [N, 1, H, W]."""
        if labels.ndim == 4:
            labels = labels.squeeze(1)
        return boundary_target(labels, self.fuse_kernel)

    def terms(
        self, detail_logits: paddle.Tensor, labels: paddle.Tensor
    ) -> tuple[paddle.Tensor, paddle.Tensor]:
        """(BCE-with-logits, dice), both 0-d."""
        target = self.boundary_target(labels)
        if tuple(detail_logits.shape[2:]) != tuple(target.shape[2:]):
            detail_logits = F.interpolate(
                detail_logits, size=target.shape[2:], mode="bilinear", align_corners=True
            )
        bce = F.binary_cross_entropy_with_logits(detail_logits, target)
        return bce, dice_loss(F.sigmoid(detail_logits), target)

    def forward(self, detail_logits: paddle.Tensor, labels: paddle.Tensor) -> paddle.Tensor:
        bce, dice = self.terms(detail_logits, labels)
        return bce + dice
