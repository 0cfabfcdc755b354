"""A pair of aligned rasters, an RGB image and a labelId map, that every drawing call paints
together.

Shapes are drawn without anti-aliasing, so each image edge coincides exactly with a label edge.
"""

from collections.abc import Sequence

import cv2
import numpy as np

Color = tuple[int, int, int]


class Canvas:
    def __init__(self, height: int, width: int) -> None:
        self.height = height
        self.width = width
        self.image = np.zeros((height, width, 3), dtype=np.uint8)
        self.label = np.zeros((height, width), dtype=np.uint8)

    def polygon(self, points: Sequence[tuple[float, float]], label_id: int, color: Color) -> None:
        pts = [np.round(np.asarray(points, dtype=np.float64)).astype(np.int32)]
        cv2.fillPoly(self.image, pts, _as_ints(color))
        cv2.fillPoly(self.label, pts, int(label_id))

    def rect(self, x0: float, y0: float, x1: float, y1: float, label_id: int, color: Color) -> None:
        self.polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], label_id, color)

    def circle(
        self, cx: float, cy: float, radius: float, label_id: int, color: Color, thickness: int = -1
    ) -> None:
        center, r = (int(round(cx)), int(round(cy))), max(1, int(round(radius)))
        cv2.circle(self.image, center, r, _as_ints(color), thickness)
        cv2.circle(self.label, center, r, int(label_id), thickness)

    def ellipse(
        self, cx: float, cy: float, rx: float, ry: float, label_id: int, color: Color
    ) -> None:
        center, axes = (
            (int(round(cx)), int(round(cy))),
            (max(1, int(round(rx))), max(1, int(round(ry)))),
        )
        cv2.ellipse(self.image, center, axes, 0, 0, 360, _as_ints(color), -1)
        cv2.ellipse(self.label, center, axes, 0, 0, 360, int(label_id), -1)

    def line(
        self,
        x0: float,
        y0: float,
        x1: float,
        y1: float,
        thickness: float,
        label_id: int,
        color: Color,
    ) -> None:
        p0, p1, t = (
            (int(round(x0)), int(round(y0))),
            (int(round(x1)), int(round(y1))),
            max(1, int(round(thickness))),
        )
        cv2.line(self.image, p0, p1, _as_ints(color), t)
        cv2.line(self.label, p0, p1, int(label_id), t)

    def paint_where(self, region: tuple[slice, slice], mask: np.ndarray, color: Color) -> None:
        """Recolour pixels of `region` selected by `mask` without touching the labels (texture)."""
        self.image[region][mask] = color


def _as_ints(color: Color) -> tuple[int, int, int]:
    # OpenCV rejects numpy integer scalars inside colour tuples.
    first, second, third = color
    return int(first), int(second), int(third)
