"""PointRend training loss: cross-entropy on the coarse logits plus cross-entropy at the points.

Shape shorthand: N batch, K classes, H x W label map, P points.
"""

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from pointrend.ops import sample_labels


def masked_cross_entropy(
    logits: paddle.Tensor, labels: paddle.Tensor, ignore_index: int
) -> paddle.Tensor:
    """Mean cross-entropy over the non-ignored positions; logits [N, K, ...], labels [N, ...].

    Paddle's "mean" divides by the number of valid labels, which is 0/0 = NaN for a batch with
    only ignored labels (e.g. a crop of an unlabelled region); this returns 0 there instead, and
    stays differentiable (with zero gradient).
    """
    per_position = F.cross_entropy(
        logits, labels.unsqueeze(1), ignore_index=ignore_index, reduction="none", axis=1
    )
    num_valid = (labels != ignore_index).astype(per_position.dtype).sum()
    return per_position.sum() / paddle.clip(num_valid, min=1.0)


class PointRendLoss(nn.Layer):
    """Called as loss(coarse_logits, point_logits, point_coords, labels) for PointRend or
    loss(coarse_logits, labels) for the baseline, i.e. `loss(*model_outputs, labels)`.

    coarse_logits [N, K, h, w] are upsampled bilinearly to the label size [N, H, W] (or [N, 1, H,
    W]); the point labels are the labels sampled with nearest mode at point_coords [N, P, 2] (points
    outside the image are ignored). Returns [coarse_weight * coarse_ce, point_weight * point_ce]
    (or [coarse_weight * coarse_ce]) as 0-d tensors, so that each term can be logged.
    """

    def __init__(
        self, coarse_weight: float = 1.0, point_weight: float = 1.0, ignore_index: int = 255
    ):
        super().__init__()
        self.coarse_weight = coarse_weight
        self.point_weight = point_weight
        self.ignore_index = ignore_index

    def forward(self, *inputs: paddle.Tensor) -> list[paddle.Tensor]:
        if len(inputs) not in (2, 4):
            raise ValueError(
                "PointRendLoss expects (coarse_logits, labels) or (coarse_logits, point_logits, "
                f"point_coords, labels), got {len(inputs)} tensors"
            )
        coarse_logits, labels = inputs[0], inputs[-1]
        if labels.ndim == 4:
            labels = labels.squeeze(1)
        labels = labels.astype("int64")
        upsampled = F.interpolate(
            coarse_logits, size=labels.shape[-2:], mode="bilinear", align_corners=False
        )
        losses = [self.coarse_weight * masked_cross_entropy(upsampled, labels, self.ignore_index)]
        if len(inputs) == 4:
            point_logits, point_coords = inputs[1], inputs[2]
            point_labels = sample_labels(labels, point_coords, self.ignore_index)
            losses.append(
                self.point_weight
                * masked_cross_entropy(point_logits, point_labels, self.ignore_index)
            )
        return losses
