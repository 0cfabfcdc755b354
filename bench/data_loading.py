"""Throughput of the training data pipeline: images/s of CityscapesDataset + train transforms
through paddle.io.DataLoader, 512x1024 crops from full-size 1024x2048 images, 0 and 2 workers
(decode, random scale 0.5-2, class-balanced crop, flip, photometric distortion, normalisation).

    python -m bench.data_loading [--data-root DIR] [--num-images 16] [--batch-size 2] [--quick]
        [--out FILE]

Without --data-root it generates synthetic Cityscapes-format images of 1024x2048 in a temporary
folder; with it, it reads the train split of that root (e.g. the real Cityscapes).
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import paddle

from bench import harness
from pointrend.data import CityscapesDataset, build_train_transforms, generate_synthetic_cityscapes

FULL_SIZE = (1024, 2048)
CROP_SIZE = (512, 1024)
WORKER_COUNTS = (0, 2)


def images_per_second(
    dataset: CityscapesDataset, num_workers: int, batch_size: int, warmup: int, repeats: int
) -> dict[str, float]:
    """Median images/s over `repeats` passes through the dataset (workers stay alive between
    passes)."""
    loader = paddle.io.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )
    per_pass = (len(dataset) // batch_size) * batch_size
    for _ in range(warmup):
        for _batch in loader:
            pass
    rates: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _batch in loader:
            pass
        rates.append(per_pass / (time.perf_counter() - start))
    return {
        "images_per_s": statistics.median(rates),
        "min_images_per_s": min(rates),
        "max_images_per_s": max(rates),
        "images_per_pass": per_pass,
        "repeats": repeats,
    }


def run(
    data_root: str | None,
    num_images: int,
    batch_size: int,
    warmup: int,
    repeats: int,
    threads: int,
) -> dict[str, object]:
    cv2.setNumThreads(threads)
    with tempfile.TemporaryDirectory() as scratch:
        root = data_root
        if root is None:
            root = scratch
            start = time.perf_counter()
            generate_synthetic_cityscapes(
                root, num_train=num_images, num_val=0, size=FULL_SIZE, workers=2
            )
            print(
                f"generated {num_images} synthetic {FULL_SIZE[0]}x{FULL_SIZE[1]} images "
                f"in {time.perf_counter() - start:.1f} s"
            )
        dataset = CityscapesDataset(root, "train", build_train_transforms(crop_size=CROP_SIZE))
        rows = []
        for num_workers in WORKER_COUNTS:
            result = images_per_second(dataset, num_workers, batch_size, warmup, repeats)
            rows.append({"workers": num_workers, "batch": batch_size, **result})
            print(f"{num_workers} workers: {result['images_per_s']:.2f} images/s", flush=True)
    return {
        "source": data_root or f"synthetic {FULL_SIZE[0]}x{FULL_SIZE[1]}",
        "crop": list(CROP_SIZE),
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    harness.add_common_arguments(parser)
    parser.add_argument(
        "--data-root", default=None, help="Cityscapes-format root to read (default: synthetic)"
    )
    parser.add_argument(
        "--num-images",
        type=int,
        default=16,
        help="synthetic images to generate (default %(default)s)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=2, help="images per batch (default %(default)s)"
    )
    args = parser.parse_args()
    num_images, warmup, repeats = (
        (4, 1, 1) if args.quick else (args.num_images, min(args.warmup, 1), args.repeats)
    )
    results = run(args.data_root, num_images, args.batch_size, warmup, repeats, args.threads)
    print(
        harness.format_table(
            results["rows"],
            ["workers", "batch", "images_per_s", "min_images_per_s", "max_images_per_s"],
        )
    )
    path = harness.write_json(
        "data_loading",
        {
            "environment": harness.environment({"opencv": args.threads}),
            "command": " ".join(sys.argv),
            **results,
        },
        args.out,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
