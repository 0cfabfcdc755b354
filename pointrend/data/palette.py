"""Class colours: a palette per dataset (or generated), and train-id maps painted with it."""

import colorsys
from collections.abc import Sequence

import numpy as np

Color = tuple[int, int, int]


def default_palette(num_classes: int) -> tuple[Color, ...]:
    """num_classes distinct RGB colours: hues spread by the golden ratio, two brightness levels."""
    colors = []
    for index in range(num_classes):
        hue = (index * 0.618033988749895) % 1.0
        value = 0.95 if index % 2 == 0 else 0.7
        red, green, blue = colorsys.hsv_to_rgb(hue, 0.75, value)
        colors.append((round(red * 255), round(green * 255), round(blue * 255)))
    return tuple(colors)


def colorize(
    train_ids: np.ndarray, palette: Sequence[Color], ignore_color: Color = (0, 0, 0)
) -> np.ndarray:
    """[H, W] train ids -> [H, W, 3] uint8 RGB: class i in palette[i], anything else
    ignore_color."""
    table = np.tile(np.asarray(ignore_color, dtype=np.uint8), (256, 1))
    table[: len(palette)] = np.asarray(palette, dtype=np.uint8)
    return table[train_ids.astype(np.uint8)]
