"""Training and validation transforms for semantic segmentation, built on albumentations.

Input: the uint8 BGR image OpenCV decodes, and the uint8 trainId label. Labels are only ever
resampled with nearest neighbour and padded with the ignore index.
"""

import os
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

# Importing albumentations otherwise asks the network for a newer version; runs must work offline.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
import albumentations as A  # noqa: E402

from pointrend.config.recipe import IMAGENET_MEAN, IMAGENET_STD


class BgrToRgb(A.ImageOnlyTransform):
    """Reverse the channel order of a BGR image (OpenCV's) to RGB."""

    def __init__(self, p: float = 1.0) -> None:
        super().__init__(p=p)

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        return np.ascontiguousarray(img[..., ::-1])


class SteppedRandomScale(A.RandomScale):
    """Resize by a factor drawn uniformly from the grid low, low + step, ..., high."""

    def __init__(
        self, scale_range: tuple[float, float], step: float, interpolation: int = cv2.INTER_LINEAR
    ) -> None:
        super().__init__(
            scale_limit=(scale_range[0] - 1.0, scale_range[1] - 1.0),
            interpolation=interpolation,
            mask_interpolation=cv2.INTER_NEAREST,
            p=1.0,
        )
        low, high = scale_range
        self.scales = tuple(float(s) for s in np.arange(low, high + step / 2, step))

    def get_params(self) -> dict[str, float]:
        return {"scale": self.py_random.choice(self.scales)}


class CatMaxRatioCrop(A.RandomCrop):
    """Random crop that avoids crops dominated by one class.

    Draws up to `max_tries` crops and keeps the first in which no single class covers more than
    `cat_max_ratio` of the labelled (non-ignore) pixels and at least two classes are present;
    if none qualifies, the last one drawn is used. A crop larger than the image is clipped to the
    image (pad afterwards). Without a mask, or with `cat_max_ratio >= 1`, it is a plain random crop.
    """

    def __init__(
        self,
        height: int,
        width: int,
        cat_max_ratio: float = 0.75,
        max_tries: int = 10,
        ignore_index: int = 255,
        p: float = 1.0,
    ) -> None:
        super().__init__(height=height, width=width, p=p)
        if max_tries < 1:
            raise ValueError(f"CatMaxRatioCrop: max_tries must be >= 1, got {max_tries}")
        self.cat_max_ratio = cat_max_ratio
        self.max_tries = max_tries
        self.ignore_index = ignore_index

    def get_params_dependent_on_data(
        self, params: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        image_height, image_width = params["shape"][:2]
        crop_height, crop_width = min(self.height, image_height), min(self.width, image_width)
        mask = data.get("mask")
        tries = self.max_tries if mask is not None and self.cat_max_ratio < 1.0 else 1
        for _ in range(tries):
            y_min = self.py_random.randint(0, image_height - crop_height)
            x_min = self.py_random.randint(0, image_width - crop_width)
            crop_coords = (x_min, y_min, x_min + crop_width, y_min + crop_height)
            if (
                tries == 1
                or mask is None
                or self._is_balanced(mask[y_min : y_min + crop_height, x_min : x_min + crop_width])
            ):
                break
        return {"crop_coords": crop_coords, "pad_params": None}

    def _is_balanced(self, label: np.ndarray) -> bool:
        counts = np.bincount(label[label != self.ignore_index].ravel())
        counts = counts[counts > 0]
        return counts.size > 1 and counts.max() <= self.cat_max_ratio * counts.sum()

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("height", "width", "cat_max_ratio", "max_tries", "ignore_index")


def build_train_transforms(
    crop_size: tuple[int, int] | None = (512, 1024),
    scale_range: tuple[float, float] | None = (0.5, 2.0),
    scale_step: float = 0.0,
    cat_max_ratio: float = 0.75,
    crop_tries: int = 10,
    flip_prob: float = 0.5,
    photometric: bool = True,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    to_rgb: bool = True,
    max_pixel_value: float = 255.0,
    ignore_index: int = 255,
    brightness: float = 0.25,
    contrast: float = 0.5,
    saturation: float = 0.5,
    hue: float = 0.1,
    photometric_prob: float = 0.5,
    seed: int | None = None,
) -> A.Compose:
    """Random scale -> crop (class-balance check) -> flip -> photometric -> normalise -> pad.

    crop_size: (height, width) of the training crop; None trains on whole (scaled) images.
    scale_range: (low, high) resize factors relative to the stored image; None disables it.
        scale_step > 0 draws from low, low + step, ... (the "stepped" multi-scale variant).
    mean, std, max_pixel_value: albumentations Normalize, i.e.
        out = (pixel - mean * max_pixel_value) / (std * max_pixel_value), so ImageNet statistics
        in 0-1 units with 255 suit torchvision-style weights, and 0-255 means (e.g. 123.675, ...)
        with std in 0-255 units and max_pixel_value=1.0 suit Caffe-style weights.
    to_rgb: feed RGB (True) or keep OpenCV's BGR order (False), whichever the pretrained weights
        saw.
    brightness, contrast, saturation, hue, photometric_prob: ColorJitter ranges, as in the usual
        segmentation "photometric distortion" (contrast and saturation 0.5-1.5, hue +-0.1 turn).
    Padding comes last and happens in normalised space, so padded pixels are 0 and padded labels
    `ignore_index`.
    """
    steps = []
    if scale_range is not None:
        if scale_step > 0:
            steps.append(SteppedRandomScale(scale_range, scale_step))
        else:
            steps.append(
                A.RandomScale(
                    scale_limit=(scale_range[0] - 1.0, scale_range[1] - 1.0),
                    interpolation=cv2.INTER_LINEAR,
                    mask_interpolation=cv2.INTER_NEAREST,
                    p=1.0,
                )
            )
    if crop_size is not None:
        steps.append(
            CatMaxRatioCrop(crop_size[0], crop_size[1], cat_max_ratio, crop_tries, ignore_index)
        )
    if to_rgb:  # after the crop: reordering channels costs a full pass over the pixels
        steps.append(BgrToRgb())
    if flip_prob > 0:
        steps.append(A.HorizontalFlip(p=flip_prob))
    if photometric:
        # Hue and saturation shifts are symmetric, so applying them to BGR data (to_rgb=False)
        # draws from the same distribution as on RGB.
        steps.append(
            A.ColorJitter(
                brightness=brightness,
                contrast=contrast,
                saturation=saturation,
                hue=hue,
                p=photometric_prob,
            )
        )
    steps.append(A.Normalize(mean=tuple(mean), std=tuple(std), max_pixel_value=max_pixel_value))
    if crop_size is not None:
        steps.append(
            A.PadIfNeeded(
                min_height=crop_size[0],
                min_width=crop_size[1],
                position="top_left",
                border_mode=cv2.BORDER_CONSTANT,
                fill=0,
                fill_mask=ignore_index,
            )
        )
    return A.Compose(steps, mask_interpolation=cv2.INTER_NEAREST, seed=seed)


def build_val_transforms(
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    to_rgb: bool = True,
    max_pixel_value: float = 255.0,
) -> A.Compose:
    """Whole-image evaluation: channel order and normalisation only (same conventions as
    training)."""
    steps = [BgrToRgb()] if to_rgb else []
    steps.append(A.Normalize(mean=tuple(mean), std=tuple(std), max_pixel_value=max_pixel_value))
    return A.Compose(steps)
