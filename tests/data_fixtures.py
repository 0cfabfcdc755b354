"""Helpers for data tests: small datasets in any layout and every kind of damaged file."""

import json
import os
from collections.abc import Sequence

import cv2
import numpy as np

from pointrend.data.synthetic_custom import generate_synthetic_custom5

LFS_POINTER = (
    b"version https://git-lfs.github.com/spec/v1\n"
    b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n"
)


def make_custom5(
    root: str, num_train: int = 4, num_val: int = 2, num_test: int = 0, size=(48, 96), seed: int = 0
) -> str:
    generate_synthetic_custom5(
        root, num_train=num_train, num_val=num_val, num_test=num_test, size=size, seed=seed
    )
    return root


def write_image(path: str, height: int = 16, width: int = 24, value: int = 100) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image = np.full((height, width, 3), value, dtype=np.uint8)
    image[:, : width // 2] = 255 - value  # two regions, so JPEG has something to encode
    assert cv2.imwrite(path, image)
    return path


def write_mask(path: str, mask: np.ndarray) -> str:
    """Write an index mask [H, W] or an RGB colour mask [H, W, 3] (stored as PNG)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, mask[..., ::-1] if mask.ndim == 3 else mask)
    return path


def write_spec_json(root: str, **fields) -> str:
    raw = {
        "classes": ["background", "thing", "other"],
        "splits": {"train": {"images": "images/train", "masks": "masks/train"}},
    }
    raw.update(fields)
    path = os.path.join(root, "dataset.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(raw, handle)
    return path


def make_index_dataset(
    root: str,
    masks: dict[str, np.ndarray],
    split: str = "train",
    image_suffix: str = ".png",
    spec: dict | None = None,
    image_sizes: dict[str, Sequence[int]] | None = None,
) -> str:
    """images/<split>/<name><suffix> + masks/<split>/<name>.png (+ dataset.json when spec is
    given)."""
    for name, mask in masks.items():
        height, width = (image_sizes or {}).get(name, mask.shape[:2])
        write_image(os.path.join(root, "images", split, name + image_suffix), height, width)
        write_mask(os.path.join(root, "masks", split, name + ".png"), mask)
    if spec is not None:
        write_spec_json(root, **spec)
    return root


def three_class_mask(height: int = 16, width: int = 24) -> np.ndarray:
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[:, width // 3 :] = 1
    mask[:, 2 * width // 3 :] = 2
    return mask


def truncate(path: str, keep: float = 0.5) -> str:
    with open(path, "rb") as handle:
        data = handle.read()
    with open(path, "wb") as handle:
        handle.write(data[: int(len(data) * keep)])
    return path


def overwrite(path: str, data: bytes) -> str:
    with open(path, "wb") as handle:
        handle.write(data)
    return path
