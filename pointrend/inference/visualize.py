"""Pictures of predictions: colour maps, overlays on the image, and the points PointRend chose.

All images are uint8 BGR [H, W, 3] (OpenCV order), ready for `cv2.imwrite`.
"""

from collections.abc import Sequence

import cv2
import numpy as np

from pointrend.data.classes import CITYSCAPES_PALETTE
from pointrend.data.palette import Color, colorize

POINT_COLOR = (255, 255, 255)
# The coarse prediction is darkened so that the white points stand out on every class colour.
BASE_BRIGHTNESS = 0.55


def color_prediction(train_ids: np.ndarray, palette: Sequence[Color] | None = None) -> np.ndarray:
    """trainId map [H, W] -> BGR picture in the dataset's RGB `palette` (default: the official
    Cityscapes colours); the ignore index and ids beyond the palette in black."""
    return np.ascontiguousarray(colorize(train_ids, palette or CITYSCAPES_PALETTE)[..., ::-1])


def overlay(image: np.ndarray, color: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend a colour map over the image: alpha * colour + (1 - alpha) * image."""
    if image.shape != color.shape:
        raise ValueError(
            f"overlay: image {image.shape} and colour map {color.shape} must have the same shape"
        )
    return cv2.addWeighted(color, alpha, image, 1.0 - alpha, 0.0)


def _caption(picture: np.ndarray, text: str) -> None:
    scale = max(0.4, picture.shape[0] / 600)
    thickness = max(1, int(round(scale * 1.5)))
    (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    if width + 8 > picture.shape[1]:
        # Small images: shrink the caption to the panel's width rather than cut it off.
        scale *= (picture.shape[1] - 8) / width
        (width, height), baseline = cv2.getTextSize(
            text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness
        )
    cv2.rectangle(picture, (0, 0), (width + 8, height + baseline + 8), (0, 0, 0), thickness=-1)
    cv2.putText(
        picture,
        text,
        (4, height + 4),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        (255, 255, 255),
        thickness,
        cv2.LINE_AA,
    )


def draw_points(picture: np.ndarray, coords: np.ndarray, cell_size: int = 1) -> np.ndarray:
    """Mark normalised (x, y) points [P, 2] on a copy of `picture` as squares of `cell_size` px
    (the size of a grid cell in the picture); points outside the picture are skipped."""
    height, width = picture.shape[:2]
    marked = picture.copy()
    pixels = np.floor(coords * np.array([width, height])).astype(np.int64)
    inside = (
        (pixels[:, 0] >= 0) & (pixels[:, 0] < width) & (pixels[:, 1] >= 0) & (pixels[:, 1] < height)
    )
    pixels = pixels[inside]
    # The point sits at its cell centre; shift so the square covers exactly that cell.
    offsets = np.arange(cell_size) - cell_size // 2
    for dy in offsets:
        for dx in offsets:
            marked[
                np.clip(pixels[:, 1] + dy, 0, height - 1), np.clip(pixels[:, 0] + dx, 0, width - 1)
            ] = POINT_COLOR
    return marked


def subdivision_points_picture(
    coarse_train_ids: np.ndarray, trace: Sequence[dict], palette: Sequence[Color] | None = None
) -> np.ndarray:
    """One panel per subdivision step, stacked vertically: the coarse prediction [H, W] in colour
    with that step's chosen points (trace entry "coords" [P, 2], normalised to the image) on top."""
    base = (color_prediction(coarse_train_ids, palette) * BASE_BRIGHTNESS).astype(np.uint8)
    panels: list[np.ndarray] = []
    for step, entry in enumerate(trace, start=1):
        coords = np.asarray(entry["coords"], dtype=np.float64)
        cell_size = max(1, int(round(base.shape[1] / entry["width"])))
        panel = draw_points(base, coords, cell_size)
        _caption(
            panel, f"step {step}: {len(coords)} points on a {entry['height']}x{entry['width']} grid"
        )
        panels.append(panel)
    if not panels:
        raise ValueError(
            "the trace is empty: the model ran without subdivision (subdivision_steps=0)"
        )
    return np.concatenate(panels, axis=0)
