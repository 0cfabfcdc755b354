"""Adaptive subdivision at Cityscapes scale: its cost, where the time goes, its share of the
whole model's latency, and the dense alternative (the point head applied to every output pixel).

    python -m bench.subdivision [--threads 2] [--repeats 3] [--dense-chunk 262144] [--quick]
        [--out FILE]

Full size: coarse logits 1x19x256x512 and P2 1x256x256x512 (a 1024x2048 input), 2 steps of
8192 points, the default point head (3 FC of 256). Four measurements, all in one run:
1. stages: every operation of one subdivision call timed separately (interleaved repeats), with
   adaptive_subdivision itself as the reference row;
2. share: the end-to-end PointRend R-50 forward at 1024x2048 with the time spent inside
   adaptive_subdivision measured in the same calls;
3. subdivision vs dense: time and peak memory, each in a fresh process (bench/isolated.py);
   the dense head runs in chunks of --dense-chunk points to bound its memory;
4. the work each does: point-head FLOPs and bytes of logits written.
--quick uses a 128x256 input (coarse 32x64, 2 x 512 points), 64 FPN channels and a narrow ResNet-18.
Model weights are random: timing does not depend on them.
"""

import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paddle
import paddle.nn.functional as F

from bench import harness, isolated, model_timing
from pointrend.models import PointHead, build_model
from pointrend.models.subdivision import adaptive_subdivision, scatter_point_logits
from pointrend.ops import point_sample, uncertain_points_on_grid, uncertainty

NUM_CLASSES = 19
FULL = {
    "image": [1024, 2048],
    "num_points": 8192,
    "steps": 2,
    "depth": 50,
    "base_channels": 64,
    "fpn_channels": 256,
}
QUICK = {
    "image": [128, 256],
    "num_points": 512,
    "steps": 2,
    "depth": 18,
    "base_channels": 16,
    "fpn_channels": 64,
}


def coarse_size(config: dict[str, object]) -> list[int]:
    height, width = config["image"]
    return [height // 4, width // 4]


def make_inputs(config: dict[str, object], seed: int = 0):
    """(coarse logits [1, K, h, w], P2 features [1, C, h, w], point head in eval mode)."""
    paddle.seed(seed)
    height, width = coarse_size(config)
    coarse = paddle.randn([1, NUM_CLASSES, height, width], dtype="float32")
    fine = paddle.randn([1, config["fpn_channels"], height, width], dtype="float32")
    head = PointHead(config["fpn_channels"], NUM_CLASSES)
    head.eval()
    return coarse, fine, head


def dense_point_head(
    coarse: paddle.Tensor, fine: paddle.Tensor, head: PointHead, height: int, width: int, chunk: int
) -> paddle.Tensor:
    """The point head at every cell centre of a height x width grid: [N, K, height, width].

    The alternative to subdivision the paper argues against; `chunk` points at a time.
    """
    batch = coarse.shape[0]
    num_cells = height * width
    pieces = []
    for start in range(0, num_cells, chunk):
        cells = paddle.arange(start, min(start + chunk, num_cells), dtype="int64")
        x = ((cells % width).astype("float32") + 0.5) / width
        y = ((cells // width).astype("float32") + 0.5) / height
        coords = paddle.stack([x, y], axis=-1).unsqueeze(0).tile([batch, 1, 1])
        pieces.append(head(point_sample(fine, coords), point_sample(coarse, coords)))
    return paddle.concat(pieces, axis=2).reshape([batch, -1, height, width])


def head_flops_per_point(head: PointHead) -> int:
    """Multiply-adds x 2 of the point head's 1x1 convolutions for one point."""
    layers = list(head.fcs) + [head.predictor]
    return sum(2 * layer.weight.shape[0] * layer.weight.shape[1] for layer in layers)


def work_estimate(config: dict[str, object]) -> dict[str, float]:
    """FLOPs of the point head and MB of logits each approach has to produce."""
    height, width = coarse_size(config)
    steps, points = config["steps"], config["num_points"]
    out_height, out_width = height * 2**steps, width * 2**steps
    per_point = head_flops_per_point(PointHead(config["fpn_channels"], NUM_CLASSES))
    logits_written = sum(NUM_CLASSES * height * width * 4**step * 4 for step in range(1, steps + 1))
    return {
        "head_gflop_subdivision": steps * points * per_point / 1e9,
        "head_gflop_dense": out_height * out_width * per_point / 1e9,
        "upsampled_logits_mb_subdivision": logits_written / 2**20,
        "logits_mb_dense": NUM_CLASSES * out_height * out_width * 4 / 2**20,
    }


@paddle.no_grad()
def stage_rows(config: dict[str, object], warmup: int, repeats: int) -> list[dict[str, object]]:
    """Each operation of each subdivision step, timed on the inputs that step really sees."""
    coarse, fine, head = make_inputs(config)
    num_points = config["num_points"]
    candidates = {
        "adaptive_subdivision (all steps)": lambda: adaptive_subdivision(
            coarse, fine, head, config["steps"], num_points
        )
    }
    logits = coarse
    for step in range(1, config["steps"] + 1):
        size = [2 * logits.shape[2], 2 * logits.shape[3]]
        previous = logits
        upsampled = F.interpolate(previous, size=size, mode="bilinear", align_corners=False)
        uncertainty_map = uncertainty(upsampled)
        indices, coords = uncertain_points_on_grid(uncertainty_map, num_points)
        fine_points, coarse_points = point_sample(fine, coords), point_sample(coarse, coords)
        point_logits = head(fine_points, coarse_points)
        grid = f"{size[0]}x{size[1]}"
        candidates.update(
            {
                f"step {step} ({grid}): bilinear 2x upsample": lambda p=previous, s=size: (
                    F.interpolate(p, size=s, mode="bilinear", align_corners=False)
                ),
                f"step {step} ({grid}): uncertainty": lambda u=upsampled: uncertainty(u),
                f"step {step} ({grid}): top-k cells": lambda m=uncertainty_map: (
                    uncertain_points_on_grid(m, num_points)
                ),
                f"step {step} ({grid}): point_sample P2": lambda c=coords: point_sample(fine, c),
                f"step {step} ({grid}): point_sample coarse": lambda c=coords: point_sample(
                    coarse, c
                ),
                f"step {step} ({grid}): point head": lambda f=fine_points, c=coarse_points: head(
                    f, c
                ),
                f"step {step} ({grid}): scatter (put_along_axis)": (
                    lambda u=upsampled, i=indices, p=point_logits: scatter_point_logits(u, i, p)
                ),
            }
        )
        logits = scatter_point_logits(upsampled, indices, point_logits)
    timings = harness.time_interleaved(candidates, warmup=warmup, repeats=repeats)
    total = timings["adaptive_subdivision (all steps)"]["median_ms"]
    return [
        {
            "stage": name,
            "median_ms": timing["median_ms"],
            "spread_ms": f"{timing['min_ms']:.1f}-{timing['max_ms']:.1f}",
            "share_of_subdivision": timing["median_ms"] / total,
            "timing": timing,
        }
        for name, timing in timings.items()
    ]


def share_row(config: dict[str, object], warmup: int, repeats: int) -> dict[str, object]:
    """End-to-end PointRend forward with the time inside adaptive_subdivision measured in the
    same calls."""
    model = build_model(
        backbone_depth=config["depth"],
        backbone_base_channels=config["base_channels"],
        fpn_channels=config["fpn_channels"],
        subdivision_steps=config["steps"],
        subdivision_num_points=config["num_points"],
    )
    images = model_timing.build_input(1, *config["image"])
    result = model_timing.time_forward(model, images, warmup, repeats)
    narrow = config["base_channels"] != 64 or config["fpn_channels"] != 256
    return {
        "model": f"PointRend R{config['depth']}"
        + (f" (widths {config['base_channels']}/{config['fpn_channels']})" if narrow else ""),
        "input": "x".join(map(str, config["image"])),
        "total_ms": result["timing"]["median_ms"],
        "spread_ms": f"{result['timing']['min_ms']:.0f}-{result['timing']['max_ms']:.0f}",
        **{key: value for key, value in result.items() if key != "timing"},
        "timing": result["timing"],
    }


@paddle.no_grad()
def run_child(spec: dict[str, object]) -> None:
    """One of "subdivision" / "dense" in this fresh process: time and peak memory."""
    config = spec["config"]
    harness.set_threads(spec["threads"])
    coarse, fine, head = make_inputs(config)
    height, width = coarse_size(config)
    scale = 2 ** config["steps"]
    if spec["method"] == "subdivision":

        def run():
            return adaptive_subdivision(coarse, fine, head, config["steps"], config["num_points"])
    else:

        def run():
            return dense_point_head(
                coarse, fine, head, height * scale, width * scale, spec["chunk"]
            )

    with isolated.PeakMemory() as memory:
        timings = harness.time_interleaved(
            {spec["method"]: run}, warmup=spec["warmup"], repeats=spec["repeats"]
        )
    isolated.emit_child_result({"timing": timings[spec["method"]], **memory.record()})


def compare_rows(config: dict[str, object], args) -> list[dict[str, object]]:
    height, width = coarse_size(config)
    scale = 2 ** config["steps"]
    rows = []
    for method, warmup, repeats in (
        ("subdivision", args.warmup, args.repeats),
        ("dense", args.dense_warmup, args.dense_repeats),
    ):
        spec = {
            "method": method,
            "config": config,
            "threads": args.threads,
            "warmup": warmup,
            "repeats": repeats,
            "chunk": args.dense_chunk,
        }
        result = isolated.run_child("bench.subdivision", spec)
        points = (
            f"{config['steps']} x {config['num_points']}"
            if method == "subdivision"
            else f"{height * scale * width * scale} (chunks of {args.dense_chunk})"
        )
        rows.append(
            {
                "method": method,
                "points": points,
                "median_ms": result["timing"]["median_ms"],
                "spread_ms": f"{result['timing']['min_ms']:.0f}-{result['timing']['max_ms']:.0f}",
                "repeats": result["timing"]["repeats"],
                "peak_mem_mb": result["peak_mem_mb"],
                "process_peak_rss_mb": result["process_peak_rss_mb"],
                "memory_measure": result["memory_measure"],
                "timing": result["timing"],
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_arguments(parser)
    parser.set_defaults(repeats=3, warmup=1)
    parser.add_argument(
        "--dense-chunk",
        type=int,
        default=262144,
        help="points per dense point-head call (bounds its memory; default %(default)s)",
    )
    parser.add_argument(
        "--dense-repeats", type=int, default=1, help="timed dense calls (default %(default)s)"
    )
    parser.add_argument(
        "--dense-warmup", type=int, default=0, help="untimed dense calls (default %(default)s)"
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    paddle.set_device("cpu")
    if args.child is not None:
        run_child(json.loads(args.child))
        return 0
    config = QUICK if args.quick else FULL
    if args.quick:
        args.dense_chunk = min(args.dense_chunk, 65536)
    env = harness.begin(args)
    height, width = coarse_size(config)
    print(
        f"\ncoarse 1x{NUM_CLASSES}x{height}x{width}, "
        f"P2 1x{config['fpn_channels']}x{height}x{width}, "
        f"{config['steps']} steps x {config['num_points']} points, threads={args.threads}"
    )

    stages = stage_rows(config, args.warmup, args.repeats)
    print(f"\nsubdivision stages, median ms over {args.repeats} interleaved repeats")
    print(harness.format_table(stages, ["stage", "median_ms", "spread_ms", "share_of_subdivision"]))

    share = share_row(config, args.warmup, args.repeats)
    print(
        "\nend-to-end forward with subdivision measured inside it, "
        f"median over {args.repeats} repeats"
    )
    print(
        harness.format_table(
            [share],
            [
                "model",
                "input",
                "total_ms",
                "spread_ms",
                "features_ms",
                "subdivision_ms",
                "rest_ms",
                "subdivision_share",
            ],
        )
    )

    comparison = compare_rows(config, args)
    speedup = comparison[1]["median_ms"] / comparison[0]["median_ms"]
    memory_ratio = comparison[1]["peak_mem_mb"] / max(comparison[0]["peak_mem_mb"], 1e-9)
    print(
        "\nsubdivision vs the point head on every output pixel (each in a fresh process; "
        "peak_mem_mb = peak RSS growth during the calls)"
    )
    print(
        harness.format_table(
            comparison,
            [
                "method",
                "points",
                "median_ms",
                "spread_ms",
                "repeats",
                "peak_mem_mb",
                "process_peak_rss_mb",
            ],
        )
    )
    work = work_estimate(config)
    print(
        f"dense / subdivision: time {speedup:.1f}x, peak memory {memory_ratio:.1f}x; "
        f"point-head GFLOP {work['head_gflop_subdivision']:.2f} vs {work['head_gflop_dense']:.1f}; "
        "upsampled logits written by subdivision "
        f"{work['upsampled_logits_mb_subdivision']:.0f} MB "
        f"(dense output {work['logits_mb_dense']:.0f} MB)"
    )

    path = harness.write_json(
        "subdivision",
        {
            "command": harness.command_line("subdivision", argv),
            "environment": env,
            "config": config,
            "dense_chunk": args.dense_chunk,
            "stages": stages,
            "share": share,
            "comparison": comparison,
            "dense_over_subdivision_time": speedup,
            "dense_over_subdivision_memory": memory_ratio,
            "work": work,
            # The targets are stated for the full-size R-50 configuration only.
            "targets": None
            if args.quick
            else {
                "subdivision_share_at_most_0.10": share["subdivision_share"] <= 0.10,
                "dense_over_subdivision_at_least_5": speedup >= 5.0,
            },
        },
        args.out,
    )
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
