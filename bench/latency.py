"""End-to-end inference latency and peak memory: SemanticFPN and SemanticFPN + PointRend,
ResNet-50 and ResNet-101, 512x1024 and 1024x2048 inputs, batch 1.

    python -m bench.latency [--threads 2] [--warmup 1] [--repeats 2] [--quick] [--out FILE]

Each configuration runs in a fresh process (bench/isolated.py), so that its peak memory is its
own: the eval forward pass (logits at input resolution, as `model(images)` returns them) is
called --warmup times untimed, then --repeats times timed; peak memory covers all those calls.
The time of each stage inside the same calls is reported too (bench/model_timing.py):
features (backbone + FPN + coarse head), subdivision, and the rest (final resize, crop).
On CPU these models take seconds per image, hence the few repeats. Weights are random.
Subdivision: 2 steps x 8192 points (the paper's Cityscapes setting) at every input size.
--quick: a narrow ResNet-18 (base width 16, 64 FPN channels) at 128x256, 2 x 512 points, both heads.
"""
import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paddle

from bench import harness, isolated, model_timing
from pointrend.models import build_model

FULL_CONFIGS = [
    {"point_head": point_head, "depth": depth, "image": image, "base_channels": 64, "fpn_channels": 256,
     "num_points": 8192}
    for image in ([512, 1024], [1024, 2048]) for depth in (50, 101) for point_head in (False, True)
]
QUICK_CONFIGS = [
    {"point_head": point_head, "depth": 18, "image": [128, 256], "base_channels": 16, "fpn_channels": 64,
     "num_points": 512}
    for point_head in (False, True)
]
COLUMNS = ["model", "input", "median_ms", "spread_ms", "repeats", "features_ms", "subdivision_ms", "rest_ms",
           "subdivision_share", "peak_mem_mb"]


def model_name(config: Dict[str, object]) -> str:
    name = ("SemanticFPN+PointRend" if config["point_head"] else "SemanticFPN") + f" R{config['depth']}"
    if config["base_channels"] != 64 or config["fpn_channels"] != 256:
        name += f" (widths {config['base_channels']}/{config['fpn_channels']})"
    return name


def run_child(spec: Dict[str, object]) -> None:
    """One configuration in this fresh process: latency, stage times and peak memory."""
    config = spec["config"]
    harness.set_threads(spec["threads"])
    model = build_model(backbone_depth=config["depth"], backbone_base_channels=config["base_channels"],
                        fpn_channels=config["fpn_channels"], point_head=config["point_head"],
                        subdivision_num_points=config["num_points"])
    model.eval()
    images = model_timing.build_input(1, *config["image"])
    with isolated.PeakMemory() as memory:
        result = model_timing.time_forward(model, images, spec["warmup"], spec["repeats"])
    isolated.emit_child_result({**result, **memory.record()})


def measure(config: Dict[str, object], args) -> Dict[str, object]:
    spec = {"config": config, "threads": args.threads, "warmup": args.warmup, "repeats": args.repeats}
    result = isolated.run_child("bench.latency", spec)
    timing = result["timing"]
    row = {"model": model_name(config), "input": "x".join(map(str, config["image"])),
           "median_ms": timing["median_ms"], "spread_ms": f"{timing['min_ms']:.0f}-{timing['max_ms']:.0f}",
           "repeats": timing["repeats"], "config": config}
    row.update({key: value for key, value in result.items() if key != "timing"})
    if not config["point_head"]:
        row["subdivision_ms"] = row["subdivision_share"] = None
    row["timing"] = timing
    return row


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_arguments(parser)
    parser.set_defaults(repeats=2, warmup=1)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    paddle.set_device("cpu")
    if args.child is not None:
        run_child(json.loads(args.child))
        return 0
    env = harness.begin(args)
    rows = []
    for config in QUICK_CONFIGS if args.quick else FULL_CONFIGS:
        rows.append(measure(config, args))
        print(f"{rows[-1]['model']} {rows[-1]['input']}: {rows[-1]['median_ms']:.0f} ms", flush=True)
    print(f"\ninference, batch 1, median ms over {args.repeats} repeats after {args.warmup} warm-up, "
          f"threads={args.threads}; peak_mem_mb = {rows[0]['memory_measure']}, fresh process per row")
    print(harness.format_table(rows, COLUMNS))

    path = harness.write_json("latency", {"command": harness.command_line("latency", argv), "environment": env,
                                          "rows": rows}, args.out)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
