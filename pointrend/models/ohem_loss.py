"""Online hard example mining (OHEM) cross-entropy with PaddleSeg 2.8's semantics.

Shape shorthand: N batch, K classes, H x W label map.
"""

from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

# PaddleSeg divides by the kept fraction plus this, so an all-ignored batch gives 0, not NaN.
KEPT_FRACTION_EPSILON = 1e-5


@paddle.no_grad()
def ohem_kept_mask(
    logits: paddle.Tensor, labels: paddle.Tensor, thresh: float, min_kept: int, ignore_index: int
) -> paddle.Tensor:
    """Pixels that enter the loss, bool [N, H, W]; logits [N, K, H, W], labels int [N, H, W].

    A labelled pixel is kept when the softmax probability of its label is below a threshold:
    `thresh`, or, when the min_kept-th smallest such probability over the whole batch exceeds
    `thresh`, that probability. The comparison is strict, so in that second regime min_kept - 1
    pixels are kept (PaddleSeg's behaviour). Mining only happens when the batch has more than
    `min_kept` labelled pixels (and min_kept > 0); otherwise every labelled pixel is kept.
    """
    valid = labels != ignore_index
    num_valid = int(valid.astype("int64").sum())
    if min_kept <= 0 or num_valid <= min_kept:
        return valid
    probabilities = F.softmax(logits.astype("float32"), axis=1)
    safe_labels = paddle.where(valid, labels, paddle.zeros_like(labels)).astype("int64")
    label_probability = paddle.take_along_axis(
        probabilities, safe_labels.unsqueeze(1), axis=1
    ).squeeze(1)
    # Ignored pixels must sort after every labelled one (PaddleSeg adds 1 to their probabilities).
    ranked = paddle.where(valid, label_probability, paddle.full_like(label_probability, 2.0))
    kth_smallest = paddle.kthvalue(ranked.flatten(), min_kept)[0]
    threshold = max(float(kth_smallest), thresh)
    return valid & (label_probability < threshold)


class OhemCrossEntropyLoss(nn.Layer):
    """loss(logits [N, K, H, W], labels [N, H, W] or [N, 1, H, W]) -> 0-d tensor.

    Cross-entropy over the pixels `ohem_kept_mask` keeps, averaged as PaddleSeg does:
    mean over all pixels of (ce * kept) / (fraction kept + 1e-5). Defaults are PaddleSeg's
    (thresh 0.7, min_kept 10000 pixels per batch, ignore 255). The logits must already be at
    the label size.
    """

    def __init__(self, thresh: float = 0.7, min_kept: int = 10000, ignore_index: int = 255):
        super().__init__()
        self.thresh = thresh
        self.min_kept = min_kept
        self.ignore_index = ignore_index

    def forward(self, logits: paddle.Tensor, labels: paddle.Tensor) -> paddle.Tensor:
        if labels.ndim == 4:
            labels = labels.squeeze(1)
        if tuple(logits.shape[2:]) != tuple(labels.shape[1:]):
            raise ValueError(
                f"OHEM cross-entropy needs logits at the label size: logits {list(logits.shape)}, "
                f"labels {list(labels.shape)}"
            )
        labels = labels.astype("int64")
        kept = ohem_kept_mask(logits, labels, self.thresh, self.min_kept, self.ignore_index)
        mining_labels = paddle.where(kept, labels, paddle.full_like(labels, self.ignore_index))
        per_pixel = F.cross_entropy(
            logits,
            mining_labels.unsqueeze(1),
            ignore_index=self.ignore_index,
            reduction="none",
            axis=1,
        )
        kept_float = kept.astype(per_pixel.dtype).unsqueeze(1)
        return (per_pixel * kept_float).mean() / (kept_float.mean() + KEPT_FRACTION_EPSILON)
