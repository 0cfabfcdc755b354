"""Speed of the point ops on CPU: pointrend.ops against Paddle's and PyTorch's grid_sample.

    python -m bench.point_ops [--threads 2] [--repeats 7] [--quick] [--out FILE]

Every case samples the same random data with each implementation in one run and checks that
the results agree (max |difference| against Paddle's grid_sample, outputs and feature gradients).
PyTorch is optional: it is timed only when importable. Exit status 1 means a result differed by
more than --tolerance.
"""

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import paddle

from bench import harness
from pointrend.ops import (
    grid_sample_points,
    point_sample,
    sample_points_for_training,
    uncertain_points_on_grid,
    uncertainty,
)
from pointrend.ops.native import native_available

MAP_SHAPES = [(1, 256, 128, 256), (1, 256, 256, 512)]
POINT_COUNTS = [2048, 8192, 32768]
QUICK_MAP_SHAPES = MAP_SHAPES[:1]
QUICK_POINT_COUNTS = [8192]
NUM_CLASSES = 19
INFERENCE_LOGITS = (
    1,
    NUM_CLASSES,
    256,
    512,
)  # after one 2x upsampling of a 512x1024 crop's coarse map
TRAINING_LOGITS = (4, NUM_CLASSES, 128, 256)
TRAINING_POINTS = 2048
SUBDIVISION_POINTS = 8192


def _max_diff(a, b) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).max())


def _torch_point_sample(torch, features, coords):
    grid = (2.0 * coords - 1.0).unsqueeze(2)
    return torch.nn.functional.grid_sample(
        features, grid, mode="bilinear", padding_mode="zeros", align_corners=False
    ).squeeze(3)


def _sampling_candidates(
    features: np.ndarray, coords: np.ndarray, torch
) -> dict[str, dict[str, Callable]]:
    """Forward and forward+backward callables per implementation, all on the same data."""
    inference_features = paddle.to_tensor(features)
    training_features = paddle.to_tensor(features, stop_gradient=False)
    paddle_coords = paddle.to_tensor(coords)
    grad_out = paddle.ones([features.shape[0], features.shape[1], coords.shape[1]], dtype="float32")

    def paddle_pair(sample):
        def forward():
            return sample(inference_features, paddle_coords)

        def forward_backward():
            out = sample(training_features, paddle_coords)
            return out, paddle.grad(out, training_features, grad_outputs=grad_out)[0]

        return {"forward": forward, "forward+backward": forward_backward}

    candidates = {"pointrend": paddle_pair(point_sample), "paddle": paddle_pair(grid_sample_points)}
    if torch is not None:
        torch_features = torch.from_numpy(features)
        torch_training = torch_features.clone().requires_grad_(True)
        torch_coords = torch.from_numpy(coords)
        torch_grad = torch.ones(features.shape[0], features.shape[1], coords.shape[1])

        def torch_forward():
            with torch.no_grad():
                return _torch_point_sample(torch, torch_features, torch_coords)

        def torch_forward_backward():
            out = _torch_point_sample(torch, torch_training, torch_coords)
            return out, torch.autograd.grad(out, torch_training, torch_grad)[0]

        candidates["torch"] = {"forward": torch_forward, "forward+backward": torch_forward_backward}
    return candidates


def _as_numpy(tensor) -> np.ndarray:
    return tensor.numpy() if isinstance(tensor, paddle.Tensor) else tensor.detach().numpy()


def bench_point_sample(map_shape, num_points: int, args, torch, rng) -> list[dict[str, object]]:
    features = rng.standard_normal(map_shape, dtype=np.float32)
    coords = rng.random((map_shape[0], num_points, 2), dtype=np.float32)
    candidates = _sampling_candidates(features, coords, torch)
    rows = []
    for pass_name in ("forward", "forward+backward"):
        runs = {name: passes[pass_name] for name, passes in candidates.items()}
        results = {name: run() for name, run in runs.items()}
        timings = harness.time_interleaved(runs, warmup=args.warmup, repeats=args.repeats)
        row: dict[str, object] = {
            "op": "point_sample bilinear",
            "map": "x".join(map(str, map_shape)),
            "points": num_points,
            "pass": pass_name,
        }
        for name, summary in timings.items():
            row[f"{name}_ms"] = summary["median_ms"]
            row[f"{name}_spread_ms"] = f"{summary['min_ms']:.1f}-{summary['max_ms']:.1f}"
            row[f"{name}_timing"] = summary
        row["paddle/ours"] = timings["paddle"]["median_ms"] / timings["pointrend"]["median_ms"]
        if "torch" in timings:
            row["torch/ours"] = timings["torch"]["median_ms"] / timings["pointrend"]["median_ms"]
        reference = results["paddle"]
        for name in (n for n in results if n != "paddle"):
            ours, ref = results[name], reference
            if pass_name == "forward":
                row[f"{name}_max_diff"] = _max_diff(_as_numpy(ours), _as_numpy(ref))
            else:
                row[f"{name}_max_diff"] = max(
                    _max_diff(_as_numpy(ours[0]), _as_numpy(ref[0])),
                    _max_diff(_as_numpy(ours[1]), _as_numpy(ref[1])),
                )
        rows.append(row)
    return rows


def _topk_uncertainty(logits: paddle.Tensor) -> paddle.Tensor:
    """The textbook formulation, kept here as the baseline for uncertainty()."""
    top2 = paddle.topk(logits, k=2, axis=1).values
    return top2[:, 1:2] - top2[:, 0:1]


def bench_selection(args, rng) -> list[dict[str, object]]:
    """Inference point selection and training point sampling, ours against a topk / grid_sample
    baseline."""
    logits = paddle.to_tensor(rng.standard_normal(INFERENCE_LOGITS, dtype=np.float32))
    coarse = paddle.to_tensor(rng.standard_normal(TRAINING_LOGITS, dtype=np.float32))

    def select_ours():
        return uncertain_points_on_grid(uncertainty(logits), SUBDIVISION_POINTS)

    def select_baseline():
        return uncertain_points_on_grid(_topk_uncertainty(logits), SUBDIVISION_POINTS)

    def train_points_baseline():
        # The same algorithm built from Paddle's grid_sample and topk.
        batch = coarse.shape[0]
        candidates = paddle.rand([batch, 3 * TRAINING_POINTS, 2])
        scores = _topk_uncertainty(grid_sample_points(coarse, candidates))[:, 0]
        top = paddle.topk(scores, k=TRAINING_POINTS * 3 // 4, axis=1).indices
        chosen = paddle.take_along_axis(candidates, top.unsqueeze(-1).tile([1, 1, 2]), axis=1)
        return paddle.concat([chosen, paddle.rand([batch, TRAINING_POINTS // 4, 2])], axis=1)

    same_indices = bool((select_ours()[0].numpy() == select_baseline()[0].numpy()).all())
    rows = []
    cases = [
        (
            "uncertainty + top-k on grid",
            "x".join(map(str, INFERENCE_LOGITS)),
            SUBDIVISION_POINTS,
            select_ours,
            select_baseline,
            same_indices,
        ),
        (
            "sample_points_for_training",
            "x".join(map(str, TRAINING_LOGITS)),
            TRAINING_POINTS,
            lambda: sample_points_for_training(coarse, TRAINING_POINTS),
            train_points_baseline,
            None,
        ),
    ]
    for op, shape, points, ours, baseline, agree in cases:
        timings = harness.time_interleaved(
            {"pointrend": ours, "baseline": baseline}, warmup=args.warmup, repeats=args.repeats
        )
        rows.append(
            {
                "op": op,
                "map": shape,
                "points": points,
                "pointrend_ms": timings["pointrend"]["median_ms"],
                "pointrend_spread_ms": (
                    f"{timings['pointrend']['min_ms']:.1f}-{timings['pointrend']['max_ms']:.1f}"
                ),
                "baseline_ms": timings["baseline"]["median_ms"],
                "baseline/ours": timings["baseline"]["median_ms"]
                / timings["pointrend"]["median_ms"],
                "same_result": agree,
                "timings": timings,
            }
        )
    return rows


SAMPLING_COLUMNS = [
    "map",
    "points",
    "pass",
    "pointrend_ms",
    "pointrend_spread_ms",
    "paddle_ms",
    "torch_ms",
    "paddle/ours",
    "torch/ours",
    "pointrend_max_diff",
    "torch_max_diff",
]
SELECTION_COLUMNS = [
    "op",
    "map",
    "points",
    "pointrend_ms",
    "pointrend_spread_ms",
    "baseline_ms",
    "baseline/ours",
    "same_result",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_arguments(parser)
    parser.add_argument(
        "--tolerance",
        type=float,
        default=1e-5,
        help="largest allowed |difference| from Paddle's grid_sample (default %(default)s)",
    )
    parser.add_argument(
        "--no-torch", action="store_true", help="skip PyTorch even when it is installed"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = min(args.repeats, 3)
        args.warmup = min(args.warmup, 1)

    paddle.set_device("cpu")
    threads = harness.set_threads(args.threads)
    torch = None if args.no_torch else harness.optional_torch()
    env = harness.environment(threads)
    harness.print_environment(env)
    if not native_available():
        print(
            "warning: the compiled kernel is not built; 'pointrend' times Paddle's grid_sample "
            "fallback"
        )

    rng = np.random.default_rng(0)
    sampling_rows = []
    for map_shape in QUICK_MAP_SHAPES if args.quick else MAP_SHAPES:
        for num_points in QUICK_POINT_COUNTS if args.quick else POINT_COUNTS:
            sampling_rows += bench_point_sample(map_shape, num_points, args, torch, rng)
    selection_rows = bench_selection(args, rng)

    print(
        f"\npoint_sample (bilinear), median ms over {args.repeats} repeats, "
        f"threads={args.threads}; "
        "max_diff = max |difference| from paddle grid_sample (outputs and feature gradients)"
    )
    print(harness.format_table(sampling_rows, SAMPLING_COLUMNS))
    print("\npoint selection, median ms (baseline: topk(k=2) uncertainty and grid_sample)")
    print(harness.format_table(selection_rows, SELECTION_COLUMNS))

    command = "python -m bench.point_ops " + " ".join(sys.argv[1:] if argv is None else argv)
    path = harness.write_json(
        "point_ops",
        {
            "command": command.strip(),
            "environment": env,
            "point_sample": sampling_rows,
            "selection": selection_rows,
        },
        args.out,
    )
    print(f"\nwrote {path}")

    worst = max(row["pointrend_max_diff"] for row in sampling_rows)
    if worst > args.tolerance or any(row["same_result"] is False for row in selection_rows):
        print(
            f"FAILED: results differ (largest difference {worst:.2e}, "
            f"tolerance {args.tolerance:.0e})"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
