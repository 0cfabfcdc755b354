"""Decode image and mask files, and say exactly what is wrong with the ones that cannot be used.

OpenCV returns None for some broken files and silently decodes others (a truncated JPEG comes
back with its missing rows grey), so the bytes are checked first: empty files, git-LFS pointers,
text saved under an image name, PNGs without their end chunk and JPEGs without their end marker
are each named as such.
"""

import io
import os

import cv2
import numpy as np

from pointrend.data.errors import DataFileError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_START, _JPEG_END = b"\xff\xd8", b"\xff\xd9"
_LFS_POINTER = b"version https://git-lfs"
# Cameras and editors may append metadata after a JPEG's end marker; look for it near the end.
_JPEG_TAIL = 4096
_PNG_PALETTE_COLOR_TYPE = 3


def read_image_file(path: str) -> np.ndarray:
    """Read a colour image as uint8 [H, W, 3] in OpenCV's BGR order (grey images are expanded)."""
    data = _read_bytes(path, "image")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise DataFileError(path, _undecodable(path, "image", "not a format OpenCV can read"))
    return image


def read_mask_file(path: str, palette_indices: bool = True) -> np.ndarray:
    """Read a mask exactly as stored: [H, W] (index) or [H, W, 3|4] (colour, BGR[A]), any depth.

    palette_indices: palette PNGs (VOC style) give their palette indices, not the colours.
    """
    data = _read_bytes(path, "label")
    if palette_indices and _is_palette_png(data):
        return _palette_png_indices(path, data)
    mask = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise DataFileError(path, _undecodable(path, "label", "not a format OpenCV can read"))
    return mask


def _read_bytes(path: str, kind: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise DataFileError(path, f"{kind} file {path} does not exist") from None
    except OSError as error:
        raise DataFileError(path, f"{kind} file {path} cannot be read: {error.strerror}") from None
    problem = byte_problem(data, path)
    if problem:
        raise DataFileError(path, _undecodable(path, kind, problem))
    return data


def byte_problem(data: bytes, path: str) -> str:
    """Why `data` (the content of `path`) cannot be a whole image, or "" when nothing is seen."""
    if not data:
        return "the file is empty (0 bytes)"
    if data.startswith(_LFS_POINTER):
        return (
            "it is a git-LFS pointer, not the file itself: run `git lfs pull` in the dataset "
            "repository"
        )
    if data.startswith(_PNG_SIGNATURE):
        return "" if b"IEND" in data[-12:] else "truncated PNG (the end chunk IEND is missing)"
    if data.startswith(_JPEG_START):
        return (
            "" if _JPEG_END in data[-_JPEG_TAIL:] else "truncated JPEG (the end marker is missing)"
        )
    if _looks_like_text(data):
        start = data[:40].decode("utf-8", "replace")
        return f"it is a text file, not an image (starts with {start!r})"
    extension = os.path.splitext(path)[1].lower()
    if extension == ".png":
        return "not a PNG (the PNG signature is missing)"
    if extension in (".jpg", ".jpeg"):
        return "not a JPEG (the JPEG start marker is missing)"
    return ""


def _looks_like_text(data: bytes) -> bool:
    head = data[:512]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(char.isprintable() or char in "\r\n\t" for char in text)


def _is_palette_png(data: bytes) -> bool:
    # IHDR is always the first chunk: 8-byte signature, length, "IHDR", width, height, depth, type.
    return (
        data.startswith(_PNG_SIGNATURE) and len(data) > 25 and data[25] == _PNG_PALETTE_COLOR_TYPE
    )


def _palette_png_indices(path: str, data: bytes) -> np.ndarray:
    from PIL import Image  # a dependency of paddle; OpenCV expands palettes to colours

    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image)
    except (OSError, ValueError, SyntaxError) as error:
        raise DataFileError(path, _undecodable(path, "label", str(error))) from None


def _undecodable(path: str, kind: str, problem: str) -> str:
    return (
        f"{kind} file {path} cannot be decoded: {problem}; re-extract or re-download it "
        "(`python -m pointrend.data.prepare check --root=<dataset root>` lists every such file)"
    )
