"""Write a synthetic dataset in the exact Cityscapes layout, for demos, tests and offline runs.

    python -m pointrend.data.synthetic --root data/synthetic_cityscapes \
        --num_train 64 --num_val 16 --size 256x512
    python -m pointrend.data.synthetic --root data/synthetic_full \
        --num_train 16 --num_val 0 --size 1024x2048 --workers 2
    python -m pointrend.data.synthetic --preset custom5 --root data/synthetic_custom5 --size 96x192

Writes leftImg8bit/<split>/<city>/*_leftImg8bit.png, gtFine/<split>/<city>/*_gtFine_labelIds.png
and *_gtFine_labelTrainIds.png (test images get no labels, like the official test split),
and train.txt / val.txt / test.txt. The same seed always gives the same files.
`--preset custom5` writes a dataset in another layout instead (5 classes, JPEG images, colour
masks and a dataset.json; see synthetic_custom.py).
"""

import os
import time
from collections.abc import Sequence

import cv2
import fire
import numpy as np

from pointrend.data.classes import label_ids_to_train_ids
from pointrend.data.image_io import write_png
from pointrend.data.layout import (
    IMAGE_DIR,
    IMAGE_SUFFIX,
    LABEL_DIR,
    LABEL_ID_SUFFIX,
    SPLITS,
    TRAIN_ID_SUFFIX,
    write_list_file,
)
from pointrend.data.parallel import parallel_map
from pointrend.data.synthetic_custom import generate_synthetic_custom5
from pointrend.data.synthetic_scene import render_scene

CITIES = {
    "train": ("arborville", "brightwater", "cobbleton"),
    "val": ("dunmere", "eastwick"),
    "test": ("fairhaven",),
}


def parse_size(size: str | Sequence[int]) -> tuple[int, int]:
    """(height, width) from "256x512" or a (height, width) pair."""
    if isinstance(size, str):
        parts = size.lower().split("x")
    elif isinstance(size, (tuple, list)):
        parts = list(size)
    else:
        parts = []
    try:
        height, width = (int(part) for part in parts)
    except ValueError:
        height = width = 0
    if height < 32 or width < 32:
        raise ValueError(
            f"size must be HEIGHTxWIDTH with both >= 32, e.g. 256x512 or (256, 512); got {size!r}"
        )
    return height, width


def generate_synthetic_cityscapes(
    root: str,
    num_train: int = 64,
    num_val: int = 16,
    num_test: int = 0,
    size: str | Sequence[int] = (256, 512),
    seed: int = 0,
    workers: int = 1,
) -> dict[str, int]:
    """Generate the dataset under `root`; returns the number of images written per split.

    `workers` > 1 renders on that many processes (worth it for full-size 1024x2048 images); the
    files do not depend on it.
    """
    height, width = parse_size(size)
    counts = {"train": num_train, "val": num_val, "test": num_test}
    jobs = [
        (root, split, index, height, width, seed)
        for split in SPLITS
        for index in range(counts[split])
    ]
    parallel_map(_write_sample, jobs, workers, "synthetic images", progress=len(jobs) > 100)
    for split in SPLITS:
        if counts[split]:
            write_list_file(root, split)
    return {split: count for split, count in counts.items() if count}


def _write_sample(job: tuple[str, str, int, int, int, int]) -> None:
    root, split, index, height, width, seed = job
    # Seeding per image keeps image k identical whatever the number of images asked for.
    image, label_ids = render_scene(
        np.random.default_rng([seed, SPLITS.index(split), index]), height, width
    )
    city = CITIES[split][index % len(CITIES[split])]
    stem = os.path.join(split, city, f"{city}_{index:06d}_000019")
    write_png(
        os.path.join(root, IMAGE_DIR, stem + IMAGE_SUFFIX), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    )
    if split != "test":
        write_png(os.path.join(root, LABEL_DIR, stem + LABEL_ID_SUFFIX), label_ids)
        write_png(
            os.path.join(root, LABEL_DIR, stem + TRAIN_ID_SUFFIX), label_ids_to_train_ids(label_ids)
        )


PRESETS = ("cityscapes", "custom5")


def main(
    root: str = "data/synthetic_cityscapes",
    num_train: int = 64,
    num_val: int = 16,
    num_test: int = 0,
    size: str | Sequence[int] = "256x512",
    seed: int = 0,
    workers: int = 1,
    preset: str = "cityscapes",
) -> None:
    """Generate a synthetic Cityscapes-format dataset, or another --preset (see the module
    docstring)."""
    if preset not in PRESETS:
        raise SystemExit(f"--preset={preset!r} is not one of {', '.join(PRESETS)}")
    start = time.perf_counter()
    height, width = parse_size(size)
    if preset == "custom5":
        counts = generate_synthetic_custom5(
            root, num_train, num_val, num_test, (height, width), seed, workers
        )
    else:
        counts = generate_synthetic_cityscapes(
            root, num_train, num_val, num_test, size, seed, workers
        )
    summary = ", ".join(f"{count} {split}" for split, count in counts.items())
    print(
        f"wrote {summary} images of {height}x{width} to {root} in "
        f"{time.perf_counter() - start:.1f} s"
    )


if __name__ == "__main__":
    fire.Fire(main)
