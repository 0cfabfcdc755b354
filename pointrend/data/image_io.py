"""Reading and writing the PNG files of a Cityscapes-format dataset, with errors that name the
file."""

import os
from collections.abc import Sequence

import cv2
import numpy as np

from pointrend.data.decode import read_image_file, read_mask_file
from pointrend.utils.output_files import write_bytes_atomically

# Level 1 keeps labels lossless (PNG always is) and writes several times faster than the default.
_PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1]


def read_image(path: str) -> np.ndarray:
    """Read a colour image as uint8 [H, W, 3] in OpenCV's BGR channel order."""
    if not os.path.exists(path):
        raise ValueError(_unreadable_message(path, "image"))
    return read_image_file(path)


def read_label(path: str) -> np.ndarray:
    """Read a single-channel uint8 label map [H, W] exactly as stored (no colour conversion)."""
    if not os.path.exists(path):
        raise ValueError(_unreadable_message(path, "label"))
    label = read_mask_file(path)
    if label.ndim != 2 or label.dtype != np.uint8:
        raise ValueError(
            f"label file {path} is not a single-channel 8-bit PNG (shape {label.shape}, dtype "
            f"{label.dtype}); labels must store one id per pixel, not colours: use the "
            "*_gtFine_labelTrainIds.png files (`python -m pointrend.data.prepare trainids "
            "--root=<dataset root>` writes them)"
        )
    return label


def write_png(path: str, array: np.ndarray) -> None:
    """Write a uint8 image or label map as PNG, creating the parent directory."""
    write_image(path, array, _PNG_PARAMS)


def write_image(path: str, array: np.ndarray, params: Sequence[int] = ()) -> None:
    """Write a uint8 picture in the format of `path`'s extension, whole or not at all (a full
    disk never leaves a truncated file): OutputWriteError naming the folder otherwise."""
    extension = os.path.splitext(path)[1]
    ok, encoded = cv2.imencode(extension, array, list(params))
    if not ok:
        raise ValueError(
            f"OpenCV cannot encode a {array.dtype} array of shape {array.shape} "
            f"as {extension} (writing {path})"
        )
    write_bytes_atomically(path, encoded.tobytes())


def _unreadable_message(path: str, kind: str) -> str:
    return (
        f"{kind} file {path} does not exist; regenerate the file lists with "
        "`python -m pointrend.data.prepare lists`"
    )
