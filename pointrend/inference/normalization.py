"""The image normalisation a network expects, and applying it to an OpenCV image.

albumentations' Normalize semantics, as the data transforms and exported models use them:
    out = (pixel - mean * max_pixel_value) / (std * max_pixel_value)
on RGB (`to_rgb`) or OpenCV's BGR channel order. ImageNet statistics on the 0-1 scale take
max_pixel_value=255; Caffe-style statistics on the 0-255 scale (detectron2) take 1.0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

FIELDS = ("mean", "std", "to_rgb", "max_pixel_value")


def normalize_image(
    image_bgr: np.ndarray,
    mean: Sequence[float],
    std: Sequence[float],
    to_rgb: bool,
    max_pixel_value: float,
) -> np.ndarray:
    """uint8 BGR image [H, W, 3] (as from cv2.imread) -> normalised [1, 3, H, W] float32."""
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
        raise ValueError(f"expected a colour image [H, W, 3], got shape {image_bgr.shape}")
    image = image_bgr[..., ::-1] if to_rgb else image_bgr
    offset = np.asarray(mean, dtype=np.float32) * max_pixel_value
    scale = np.asarray(std, dtype=np.float32) * max_pixel_value
    normalised = (image.astype(np.float32) - offset) / scale
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[None])


def _per_channel(values: Sequence[float], name: str, origin: str) -> tuple[float, float, float]:
    """Three floats, one per colour channel, or a one-line ValueError naming `origin`."""
    if len(values) != 3:
        raise ValueError(f"{origin}: the image normalisation's {name} needs 3 values, got {values}")
    first, second, third = (float(value) for value in values)
    return first, second, third


@dataclass(frozen=True)
class Normalization:
    """What a network's input images are: `normalization(cv2.imread(path))` -> [1, 3, H, W]."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    to_rgb: bool
    max_pixel_value: float

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], origin: str) -> Normalization:
        """From a dict with FIELDS (a recipe's `data` section, preprocess.json); a missing field
        raises a one-line ValueError naming `origin`."""
        missing = [name for name in FIELDS if name not in settings]
        if missing:
            raise ValueError(f"{origin}: the image normalisation lacks {', '.join(missing)}")
        return cls(
            mean=_per_channel(settings["mean"], "mean", origin),
            std=_per_channel(settings["std"], "std", origin),
            to_rgb=bool(settings["to_rgb"]),
            max_pixel_value=float(settings["max_pixel_value"]),
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: lists for the statistics."""
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in asdict(self).items()
        }

    def __call__(self, image_bgr: np.ndarray) -> np.ndarray:
        return normalize_image(image_bgr, self.mean, self.std, self.to_rgb, self.max_pixel_value)
