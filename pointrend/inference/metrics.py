"""Segmentation metrics from confusion matrices: mIoU, per-class IoU, pixel accuracy, boundary mIoU.

Shape shorthand: H x W label / prediction maps, K classes.

Rules:
- Pixels whose label is `ignore_index` never count, whatever is predicted there.
- IoU_c = TP / (TP + FP + FN) over the whole dataset. A class absent from both the labels and the
  predictions (TP + FP + FN = 0) has no IoU (None in per-class results) and is left out of the
  mean; a class that is predicted but never labelled has IoU 0 and counts.
- Boundary mIoU is the same figure on the pixels within `boundary_width` px (Chebyshev distance)
  of a label change. A change into or out of the ignore label is a boundary too, since in
  Cityscapes ignore regions are real objects (ego vehicle, static clutter); ignore pixels
  themselves stay ignored.
"""

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np


class ConfusionMatrix:
    """Accumulates a K x K matrix `counts[label, prediction]` over images (int64)."""

    def __init__(self, num_classes: int, ignore_index: int = 255):
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.counts = np.zeros((num_classes, num_classes), dtype=np.int64)

    def update(
        self, prediction: np.ndarray, label: np.ndarray, mask: np.ndarray | None = None
    ) -> None:
        """Add one image: integer maps [H, W] (any matching shapes); `mask` restricts the pixels
        counted."""
        if prediction.shape != label.shape:
            raise ValueError(
                f"prediction shape {prediction.shape} differs from label shape {label.shape}"
            )
        valid = label != self.ignore_index
        if mask is not None:
            valid &= mask
        label = label[valid].astype(np.int64)
        prediction = prediction[valid].astype(np.int64)
        if label.size and (label.min() < 0 or label.max() >= self.num_classes):
            raise ValueError(
                f"label values must be in [0, {self.num_classes}) or {self.ignore_index}; "
                f"got range [{label.min()}, {label.max()}]"
            )
        if prediction.size and (prediction.min() < 0 or prediction.max() >= self.num_classes):
            raise ValueError(
                f"prediction values must be in [0, {self.num_classes}); "
                f"got range [{prediction.min()}, {prediction.max()}]"
            )
        flat = np.bincount(label * self.num_classes + prediction, minlength=self.num_classes**2)
        self.counts += flat.reshape(self.num_classes, self.num_classes)

    def all_reduce(self) -> None:
        """Sum the matrices of all data-parallel ranks in place (no-op for a single process)."""
        import paddle
        import paddle.distributed as dist

        from pointrend.utils.distributed import world_size

        if world_size() <= 1:
            return
        counts = paddle.to_tensor(self.counts)
        dist.all_reduce(counts)
        self.counts = counts.numpy().astype(np.int64)

    def iou(self) -> list[float | None]:
        """Per-class IoU; None for classes absent from both labels and predictions."""
        true_positive = np.diag(self.counts)
        union = self.counts.sum(axis=0) + self.counts.sum(axis=1) - true_positive
        return [
            float(tp) / float(u) if u > 0 else None
            for tp, u in zip(true_positive, union, strict=True)
        ]

    def mean_iou(self) -> float | None:
        """Mean over classes that have an IoU; None when no pixel was counted."""
        present = [value for value in self.iou() if value is not None]
        return float(np.mean(present)) if present else None

    def pixel_accuracy(self) -> float | None:
        total = self.counts.sum()
        return float(np.trace(self.counts)) / float(total) if total > 0 else None


def boundary_band(label: np.ndarray, boundary_width: int) -> np.ndarray:
    """Boolean [H, W]: pixels within `boundary_width` px (Chebyshev) of a pixel with another label.

    A pixel is in the band exactly when the (2w+1) x (2w+1) window around it holds two different
    labels, i.e. when the window's maximum and minimum differ.
    """
    if boundary_width < 1:
        raise ValueError(f"boundary_width must be >= 1, got {boundary_width}")
    if label.ndim != 2:
        raise ValueError(f"boundary_band expects a 2-D label map, got shape {label.shape}")
    # cv2 morphology needs a supported dtype; label ids (0..255) fit in uint8 and keep their order.
    label = label.astype(np.uint8) if label.max(initial=0) <= 255 else label.astype(np.float32)
    kernel = np.ones((2 * boundary_width + 1, 2 * boundary_width + 1), dtype=np.uint8)
    # Replicated borders: the image edge is not a label change.
    local_max = cv2.dilate(label, kernel, borderType=cv2.BORDER_REPLICATE)
    local_min = cv2.erode(label, kernel, borderType=cv2.BORDER_REPLICATE)
    return local_max != local_min


class SegmentationMetrics:
    """Whole-image and boundary-band confusion matrices, updated together per image."""

    def __init__(self, num_classes: int, ignore_index: int = 255, boundary_width: int = 3):
        self.boundary_width = boundary_width
        self.overall = ConfusionMatrix(num_classes, ignore_index)
        self.boundary = ConfusionMatrix(num_classes, ignore_index)

    def update(self, prediction: np.ndarray, label: np.ndarray) -> None:
        """Add one image: prediction and label maps [H, W]."""
        self.overall.update(prediction, label)
        self.boundary.update(prediction, label, mask=boundary_band(label, self.boundary_width))

    def all_reduce(self) -> None:
        self.overall.all_reduce()
        self.boundary.all_reduce()

    def results(self, class_names: Sequence[str] | None = None) -> dict[str, Any]:
        """Plain-Python summary (JSON-serialisable): mIoU, per-class IoU, pixel accuracy, boundary
        mIoU."""
        num_classes = self.overall.num_classes
        if class_names is None:
            class_names = [str(index) for index in range(num_classes)]
        if len(class_names) != num_classes:
            raise ValueError(f"got {len(class_names)} class names for {num_classes} classes")
        return {
            "mIoU": self.overall.mean_iou(),
            "pixel_accuracy": self.overall.pixel_accuracy(),
            "boundary_mIoU": self.boundary.mean_iou(),
            "boundary_width": self.boundary_width,
            "per_class_IoU": dict(zip(class_names, self.overall.iou(), strict=True)),
            "per_class_boundary_IoU": dict(zip(class_names, self.boundary.iou(), strict=True)),
        }
