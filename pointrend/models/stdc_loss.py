"""The training loss of PaddleSeg's published STDC-Seg configs: OHEM cross-entropy on the main and
both auxiliary logits plus the detail aggregation loss, weights [1, 1, 1, 1]; with PointRend on
STDC, the point cross-entropy besides.

Shape shorthand: N batch, K classes, H x W label map.
"""

from __future__ import annotations

from collections.abc import Sequence

import paddle
import paddle.nn.functional as F
from paddle import nn

from pointrend.models.detail_loss import DEFAULT_FUSE_WEIGHTS, DetailAggregateLoss
from pointrend.models.losses import masked_cross_entropy
from pointrend.models.ohem_loss import OhemCrossEntropyLoss
from pointrend.ops import sample_labels

STDC_LOSS_NAMES = ("ohem_out", "ohem_out8", "ohem_out16", "detail")


class STDCLoss(nn.Layer):
    """loss(logits, aux8_logits, aux16_logits, detail_logits, labels) -> list of 4 weighted 0-d
    terms (`STDC_LOSS_NAMES`), i.e. `loss(*STDCSeg_training_outputs, labels)`.

    The three class logits ([N, K, h, w] at strides 8, 8, 16) are resized to the label size
    [N, H, W] with bilinear align_corners=True (the resize PaddleSeg does inside the model) before
    the OHEM cross-entropy; the detail logits are resized inside the detail loss.
    """

    def __init__(
        self,
        thresh: float = 0.7,
        min_kept: int = 10000,
        ignore_index: int = 255,
        fuse_weights: Sequence[float] = DEFAULT_FUSE_WEIGHTS,
        weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
    ):
        super().__init__()
        if len(weights) != len(STDC_LOSS_NAMES):
            raise ValueError(
                f"weights needs {len(STDC_LOSS_NAMES)} values {STDC_LOSS_NAMES}, "
                f"got {list(weights)}"
            )
        self.ohem = OhemCrossEntropyLoss(thresh, min_kept, ignore_index)
        self.detail = DetailAggregateLoss(fuse_weights)
        self.weights = [float(w) for w in weights]

    def forward(self, *inputs: paddle.Tensor) -> list[paddle.Tensor]:
        if len(inputs) != len(STDC_LOSS_NAMES) + 1:
            raise ValueError(
                "STDCLoss expects (logits, aux8_logits, aux16_logits, detail_logits, labels), i.e. "
                f"STDCSeg's 4 training outputs and the labels; got {len(inputs)} tensors"
            )
        *class_logits, detail_logits, labels = inputs
        if labels.ndim == 4:
            labels = labels.squeeze(1)
        label_size = labels.shape[1:]
        terms = [
            self.ohem(
                F.interpolate(logits, size=label_size, mode="bilinear", align_corners=True), labels
            )
            for logits in class_logits
        ]
        terms.append(self.detail(detail_logits, labels))
        return [weight * term for weight, term in zip(self.weights, terms, strict=True)]


STDC_POINTREND_LOSS_NAMES = (*STDC_LOSS_NAMES, "point_ce")


class STDCPointRendLoss(nn.Layer):
    """loss(logits, aux8_logits, aux16_logits, detail_logits, point_logits, point_coords, labels)
    -> the 4 weighted `STDCLoss` terms and point_weight * the point cross-entropy
    (`STDC_POINTREND_LOSS_NAMES`), i.e. `loss(*STDCPointRend_training_outputs, labels)`.

    The point labels are the labels sampled (nearest) at point_coords [N, P, 2]; the point term is
    the plain cross-entropy of PointRend, not OHEM: the points are already the hard ones.
    """

    def __init__(self, stdc_loss: STDCLoss, point_weight: float = 1.0):
        super().__init__()
        self.stdc_loss = stdc_loss
        self.point_weight = point_weight

    def forward(self, *inputs: paddle.Tensor) -> list[paddle.Tensor]:
        if len(inputs) != len(STDC_POINTREND_LOSS_NAMES) + 2:
            raise ValueError(
                "STDCPointRendLoss expects STDCPointRend's 6 training outputs and the labels, "
                f"got {len(inputs)} tensors"
            )
        *stdc_outputs, point_logits, point_coords, labels = inputs
        if labels.ndim == 4:
            labels = labels.squeeze(1)
        labels = labels.astype("int64")
        ignore_index = self.stdc_loss.ohem.ignore_index
        point_labels = sample_labels(labels, point_coords, ignore_index)
        point_ce = masked_cross_entropy(point_logits, point_labels, ignore_index)
        return [*self.stdc_loss(*stdc_outputs, labels), self.point_weight * point_ce]
