"""Training step time (images/s) and peak memory of the Cityscapes recipe at batch 2.

    python -m bench.train_step [--threads 2] [--crop 256 512] [--batch-size 2] [--repeats 2]
        [--quick] [--out FILE]

One step = forward in train mode, PointRendLoss (coarse + point cross-entropy), backward, SGD
momentum update (lr 0.01, momentum 0.9, weight decay 1e-4) and clearing the gradients; the model
is the recipe's (not dilated, BN, GN head, 2048 training points). SemanticFPN+PointRend and the
SemanticFPN baseline, ResNet-50 and ResNet-101. The recipe's crop is 512x1024; on CPU the
default here is 256x512 (a quarter of the pixels), stated in the output. Each configuration runs
in a fresh process (bench/isolated.py); peak memory covers the warm-up and timed steps.
Data are random tensors, so this is the model's cost only (bench/data_loading.py measures the
input pipeline). --quick: a narrow ResNet-18 (base width 16, 64 FPN channels) at 64x128.
"""

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paddle

from bench import harness, isolated
from pointrend.models import PointRendLoss, build_model

NUM_CLASSES = 19
IGNORE_INDEX = 255
RECIPE_CROP = (512, 1024)
FULL_MODELS = [
    {"point_head": point_head, "depth": depth, "base_channels": 64, "fpn_channels": 256}
    for depth in (50, 101)
    for point_head in (False, True)
]
QUICK_MODELS = [{"point_head": True, "depth": 18, "base_channels": 16, "fpn_channels": 64}]
COLUMNS = [
    "model",
    "crop",
    "batch",
    "median_step_ms",
    "spread_ms",
    "repeats",
    "images_per_s",
    "peak_mem_mb",
]


def model_name(config: dict[str, object]) -> str:
    name = (
        "SemanticFPN+PointRend" if config["point_head"] else "SemanticFPN"
    ) + f" R{config['depth']}"
    if config["base_channels"] != 64 or config["fpn_channels"] != 256:
        name += f" (widths {config['base_channels']}/{config['fpn_channels']})"
    return name


def random_batch(batch: int, height: int, width: int):
    """Images [N, 3, H, W] and labels [N, H, W] with about 10% ignored pixels."""
    paddle.seed(0)
    images = paddle.randn([batch, 3, height, width], dtype="float32")
    labels = paddle.randint(0, NUM_CLASSES, [batch, height, width], dtype="int64")
    ignored = paddle.rand([batch, height, width]) < 0.1
    return images, paddle.where(ignored, paddle.full_like(labels, IGNORE_INDEX), labels)


def run_child(spec: dict[str, object]) -> None:
    """One configuration in this fresh process: step times and peak memory."""
    config = spec["config"]
    harness.set_threads(spec["threads"])
    model = build_model(
        backbone_depth=config["depth"],
        backbone_base_channels=config["base_channels"],
        fpn_channels=config["fpn_channels"],
        point_head=config["point_head"],
    )
    model.train()
    criterion = PointRendLoss(ignore_index=IGNORE_INDEX)
    optimizer = paddle.optimizer.Momentum(
        learning_rate=0.01, momentum=0.9, weight_decay=1e-4, parameters=model.parameters()
    )
    images, labels = random_batch(spec["batch"], *spec["crop"])

    def step() -> float:
        losses = criterion(*model(images), labels)
        total = paddle.add_n(losses)
        total.backward()
        optimizer.step()
        optimizer.clear_grad()
        return float(total)

    with isolated.PeakMemory() as memory:
        for _ in range(spec["warmup"]):
            step()
        times = []
        for _ in range(spec["repeats"]):
            harness.synchronize()
            start = time.perf_counter()
            loss = step()  # float() waits for the result, so the timer covers the whole step
            times.append((time.perf_counter() - start) * 1000.0)
    isolated.emit_child_result(
        {"timing": harness.summarise(times), "last_loss": loss, **memory.record()}
    )


def measure(config: dict[str, object], args) -> dict[str, object]:
    spec = {
        "config": config,
        "threads": args.threads,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "batch": args.batch_size,
        "crop": list(args.crop),
    }
    result = isolated.run_child("bench.train_step", spec)
    timing = result["timing"]
    return {
        "model": model_name(config),
        "crop": "x".join(map(str, args.crop)),
        "batch": args.batch_size,
        "median_step_ms": timing["median_ms"],
        "spread_ms": f"{timing['min_ms']:.0f}-{timing['max_ms']:.0f}",
        "repeats": timing["repeats"],
        "images_per_s": args.batch_size * 1000.0 / timing["median_ms"],
        "peak_mem_mb": result["peak_mem_mb"],
        "process_peak_rss_mb": result["process_peak_rss_mb"],
        "memory_measure": result["memory_measure"],
        "last_loss": result["last_loss"],
        "config": config,
        "timing": timing,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_arguments(parser)
    parser.set_defaults(repeats=2, warmup=1)
    parser.add_argument(
        "--crop",
        type=int,
        nargs=2,
        default=None,
        metavar=("H", "W"),
        help=f"training crop (recipe: {RECIPE_CROP[0]} {RECIPE_CROP[1]}; default 256 512, "
        "64 128 with --quick)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=2, help="images per step (default %(default)s)"
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    paddle.set_device("cpu")
    if args.child is not None:
        run_child(json.loads(args.child))
        return 0
    if args.crop is None:
        args.crop = [64, 128] if args.quick else [256, 512]
    env = harness.begin(args)
    rows = []
    for config in QUICK_MODELS if args.quick else FULL_MODELS:
        rows.append(measure(config, args))
        print(f"{rows[-1]['model']}: {rows[-1]['median_step_ms']:.0f} ms/step", flush=True)
    crop_note = (
        "the recipe's crop"
        if tuple(args.crop) == RECIPE_CROP
        else (f"reduced from the recipe's {RECIPE_CROP[0]}x{RECIPE_CROP[1]}")
    )
    print(
        f"\ntraining step, batch {args.batch_size}, crop {args.crop[0]}x{args.crop[1]} "
        f"({crop_note}), median over "
        f"{args.repeats} steps after {args.warmup} warm-up, threads={args.threads}; "
        f"peak_mem_mb = {rows[0]['memory_measure']}, fresh process per row"
    )
    print(harness.format_table(rows, COLUMNS))

    path = harness.write_json(
        "train_step",
        {
            "command": harness.command_line("train_step", argv),
            "environment": env,
            "crop": list(args.crop),
            "recipe_crop": list(RECIPE_CROP),
            "batch_size": args.batch_size,
            "rows": rows,
        },
        args.out,
    )
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
