"""End-to-end inference latency and peak memory per engine: SemanticFPN and SemanticFPN +
PointRend, ResNet-50 and ResNet-101; STDC1-Seg, STDC2-Seg and STDC2-Seg + PointRend; 512x1024
and 1024x2048 inputs, batch 1.

    python -m bench.latency [--threads 2] [--warmup 1] [--repeats 2] [--rounds 1]
        [--engines dygraph paddle-inference ...] [--depths 50 101] [--sizes 512x1024 1024x2048]
        [--heads semfpn pointrend] [--families semfpn stdc] [--quick] [--out FILE]

Engines: "dygraph" (the Paddle network called directly), "paddle-inference" (the exported graph
in Paddle Inference with oneDNN), "paddle-inference-no-onednn" (the same without oneDNN) and
"onnxruntime" (the same graph converted to ONNX). Each configuration and engine runs in a fresh
process (bench/isolated.py), so that its peak memory is its own: the eval forward pass (logits at
input resolution) is called --warmup times untimed, then --repeats times timed; peak memory
covers all those calls. Exporting (and converting to ONNX) happens once per configuration
before any timing, outside the measured calls. --rounds repeats the whole list of rows that many
times, so that background load hits every engine alike; a row reports the median over all its
timed calls and the largest peak. For dygraph the time of each stage inside the same calls is
reported too (bench/model_timing.py): features (backbone + FPN + coarse head), subdivision, and
the rest (final resize, crop). Weights are random. Subdivision: 2 steps x 8192 points (the
paper's Cityscapes setting) at every input size; on STDC (coarse logits at stride 8) 3 steps x
8192 points, "features" being STDC-Seg's `extract` (context path, fusion, main head).
--quick: a narrow ResNet-18 (base width 16, 64 FPN channels) at 128x256, 2 x 512 points, both
heads in dygraph, PointRend in the exported engines.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paddle

from bench import harness, isolated, model_timing
from pointrend.inference.onnx_runner import onnx_engine_installed
from pointrend.models import build_model, build_stdc_network

ENGINES = ("dygraph", "paddle-inference", "paddle-inference-no-onednn", "onnxruntime")
HEADS = {"semfpn": False, "pointrend": True}
FULL_SIZES = ("512x1024", "1024x2048")
FAMILIES = ("semfpn", "stdc")
# (variant, point head) of the STDC rows: STDC1-Seg, STDC2-Seg, STDC2-Seg + PointRend.
STDC_MODELS = (("stdc1", False), ("stdc2", False), ("stdc2", True))


def quick_configs() -> list[dict[str, object]]:
    engines = [(False, "dygraph"), (True, "dygraph"), (True, "paddle-inference")]
    engines += [(True, "onnxruntime")] if onnx_engine_installed() else []
    return [
        {
            "point_head": point_head,
            "depth": 18,
            "image": [128, 256],
            "base_channels": 16,
            "fpn_channels": 64,
            "num_points": 512,
            "engine": engine,
        }
        for point_head, engine in engines
    ]


COLUMNS = [
    "model",
    "input",
    "engine",
    "median_ms",
    "spread_ms",
    "repeats",
    "vs_dygraph",
    "x_floor",
    "features_ms",
    "subdivision_ms",
    "rest_ms",
    "subdivision_share",
    "peak_mem_mb",
]


def full_configs(args) -> list[dict[str, object]]:
    """Every requested size x depth x head x engine, engines of one model next to each other;
    then the STDC models at every size and engine."""
    semfpn = [
        {
            "point_head": HEADS[head],
            "depth": depth,
            "image": [int(v) for v in size.split("x")],
            "base_channels": 64,
            "fpn_channels": 256,
            "num_points": 8192,
            "engine": engine,
        }
        for size in args.sizes
        for depth in args.depths
        for head in args.heads
        for engine in args.engines
    ]
    stdc = [
        {
            "arch": "stdc",
            "variant": variant,
            "point_head": point_head,
            "image": [int(v) for v in size.split("x")],
            "num_points": 8192,
            "engine": engine,
        }
        for size in args.sizes
        for variant, point_head in STDC_MODELS
        for engine in args.engines
    ]
    return (semfpn if "semfpn" in args.families else []) + (stdc if "stdc" in args.families else [])


def family(config: dict[str, object]) -> str:
    return "stdc" if config.get("arch") == "stdc" else "semfpn"


def _build(config: dict[str, object]):
    paddle.seed(0)
    if family(config) == "stdc":
        model = build_stdc_network(
            config["variant"],
            point_head=config["point_head"],
            subdivision_steps=3,
            subdivision_num_points=config["num_points"],
        )
    else:
        model = build_model(
            backbone_depth=config["depth"],
            backbone_base_channels=config["base_channels"],
            fpn_channels=config["fpn_channels"],
            point_head=config["point_head"],
            subdivision_num_points=config["num_points"],
        )
    model.eval()
    return model


def _exported_predictor(config: dict[str, object], export_dir: str, threads: int):
    """Predictor over the configuration's export (made by the first child that needs it)."""
    from pointrend.config.recipe import IMAGENET_MEAN, IMAGENET_STD
    from pointrend.inference.export import export_model
    from pointrend.inference.normalization import Normalization
    from pointrend.inference.predictor import Predictor

    if not os.path.isfile(os.path.join(export_dir, "preprocess.json")):
        export_model(
            _build(config), export_dir, Normalization(IMAGENET_MEAN, IMAGENET_STD, True, 255.0)
        )
    engine = config["engine"]
    return Predictor(
        export_dir,
        device="cpu",
        num_threads=threads,
        engine="onnxruntime" if engine == "onnxruntime" else "paddle-inference",
        onednn=engine == "paddle-inference",
    )


# The best convolution rate measured on the 2-core machines of bench/README.md (Paddle Inference
# with oneDNN, a 3x3 256->256 convolution at 128x256): the floor divides the FLOPs by it.
PEAK_GFLOPS = 300.0
# The dense network's FLOPs are counted on an input this many times smaller per side and scaled
# back (its convolutions scale with the pixels).
FLOP_COUNT_REDUCTION = 4


def count_gflops(config: dict[str, object]) -> dict[str, float]:
    """GFLOP (2 per multiply-add) of the convolutions of the configuration's eval forward:
    {"dense": backbone + neck + heads, "point_head": the point head at every subdivision point}."""
    model = _build(config)
    convolutions = (paddle.nn.Conv1D, paddle.nn.Conv2D)
    point_head = getattr(model, "point_head", None)
    point_layers = {id(layer) for layer in point_head.sublayers()} if point_head else set()
    dense = [0.0]

    def count(layer, inputs, output):
        weight = layer.weight  # [out, in / groups, *kernel]: 2 * weight.size / out per output
        dense[0] += 2 * int(weight.size) / int(weight.shape[0]) * int(output.size) / 1e9

    handles = [
        layer.register_forward_post_hook(count)
        for layer in model.sublayers()
        if isinstance(layer, convolutions) and id(layer) not in point_layers
    ]
    height, width = (side // FLOP_COUNT_REDUCTION for side in config["image"])
    with paddle.no_grad():
        model(model_timing.build_input(1, height, width))
    for handle in handles:
        handle.remove()
    # Each point-head layer is a 1x1 convolution applied once per point.
    per_point = sum(
        2 * int(layer.weight.size)
        for layer in (point_head.sublayers() if point_head else [])
        if isinstance(layer, convolutions)
    )
    points = int(getattr(model, "subdivision_steps", 0)) * int(config["num_points"])
    return {
        "dense": dense[0] * FLOP_COUNT_REDUCTION**2,
        "point_head": per_point * points / 1e9 if config["point_head"] else 0.0,
    }


def add_floors(rows: list[dict[str, object]], configs: list[dict[str, object]]) -> None:
    """x_floor: the row's median over the floor, the FLOPs at PEAK_GFLOPS."""
    counted: dict[str, dict[str, float]] = {}
    for row, config in zip(rows, configs, strict=True):
        key = f"{row['model']} {row['input']}"
        if key not in counted:
            counted[key] = count_gflops(config)
        gflops = counted[key]
        floor_ms = 1000.0 * (gflops["dense"] + gflops["point_head"]) / PEAK_GFLOPS
        row["gflops"] = gflops
        row["floor_ms"] = floor_ms
        row["x_floor"] = f"{row['median_ms'] / floor_ms:.1f}x"


def model_name(config: dict[str, object]) -> str:
    if family(config) == "stdc":
        return f"STDC{config['variant'][-1]}-Seg" + ("+PointRend" if config["point_head"] else "")
    name = (
        "SemanticFPN+PointRend" if config["point_head"] else "SemanticFPN"
    ) + f" R{config['depth']}"
    if config["base_channels"] != 64 or config["fpn_channels"] != 256:
        name += f" (widths {config['base_channels']}/{config['fpn_channels']})"
    return name


def run_child(spec: dict[str, object]) -> None:
    """One configuration in this fresh process: latency, stage times and peak memory."""
    config = spec["config"]
    harness.set_threads(spec["threads"])
    images = model_timing.build_input(1, *config["image"])
    if config["engine"] == "dygraph":
        model = _build(config)
        with isolated.PeakMemory() as memory:
            result = model_timing.time_forward(model, images, spec["warmup"], spec["repeats"])
    else:
        predictor = _exported_predictor(config, spec["export_dir"], spec["threads"])
        array = images.numpy()
        with isolated.PeakMemory() as memory:
            result = model_timing.time_callable(
                lambda: predictor.logits(array), spec["warmup"], spec["repeats"]
            )
        result["onednn"] = predictor.onednn
    isolated.emit_child_result({**result, **memory.record()})


def export_dir_for(config: dict[str, object], root: str) -> str:
    """One export per model and input size, shared by the exported engines' rows."""
    model = {key: value for key, value in config.items() if key != "engine"}
    return os.path.join(
        root, "_".join(f"{key}-{value}" for key, value in sorted(model.items())).replace(" ", "")
    )


def measure(config: dict[str, object], args, export_root: str) -> dict[str, object]:
    spec = {
        "config": config,
        "threads": args.threads,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "export_dir": export_dir_for(config, export_root),
    }
    return isolated.run_child("bench.latency", spec)


def summarise_row(config: dict[str, object], results: list[dict[str, object]]) -> dict[str, object]:
    """One table row from the results of every round: times pooled, the largest peak."""
    times = [time for result in results for time in result["times_ms"]]
    timing = harness.summarise(times)
    row = {
        "model": model_name(config),
        "input": "x".join(map(str, config["image"])),
        "engine": config["engine"],
        "median_ms": timing["median_ms"],
        "spread_ms": f"{timing['min_ms']:.0f}-{timing['max_ms']:.0f}",
        "repeats": timing["repeats"],
        "config": config,
    }
    for key in ("features_ms", "subdivision_ms", "rest_ms", "subdivision_share"):
        values = [result[key] for result in results if result.get(key) is not None]
        row[key] = statistics.median(values) if values else None
    if not config["point_head"]:
        row["subdivision_ms"] = row["subdivision_share"] = None
    for key in ("peak_mem_mb", "process_peak_rss_mb"):
        row[key] = max(result[key] for result in results)
    row["memory_measure"] = results[0]["memory_measure"]
    if "onednn" in results[0]:
        row["onednn"] = results[0]["onednn"]
    row["timing"] = timing
    return row


def add_speedups(rows: list[dict[str, object]]) -> None:
    """vs_dygraph: the dygraph row's median over this row's, for the same model and input."""
    dygraph = {
        (row["model"], row["input"]): row["median_ms"] for row in rows if row["engine"] == "dygraph"
    }
    for row in rows:
        reference = dygraph.get((row["model"], row["input"]))
        row["vs_dygraph"] = f"{reference / row['median_ms']:.2f}x" if reference else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_arguments(parser)
    parser.set_defaults(repeats=2, warmup=1)
    parser.add_argument(
        "--rounds", type=int, default=1, help="passes over all rows (default %(default)s)"
    )
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--depths", nargs="+", type=int, choices=(50, 101), default=[50, 101])
    parser.add_argument("--sizes", nargs="+", choices=FULL_SIZES, default=list(FULL_SIZES))
    parser.add_argument("--heads", nargs="+", choices=sorted(HEADS), default=sorted(HEADS))
    parser.add_argument(
        "--families",
        nargs="+",
        choices=FAMILIES,
        default=list(FAMILIES),
        help="model families of the full run (default: %(default)s)",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    paddle.set_device("cpu")
    if args.child is not None:
        run_child(json.loads(args.child))
        return 0
    env = harness.begin(args)
    configs = quick_configs() if args.quick else full_configs(args)
    results: list[list[dict[str, object]]] = [[] for _ in configs]
    with tempfile.TemporaryDirectory(prefix="latency_exports_") as export_root:
        for round_index in range(args.rounds):
            for config, collected in zip(configs, results, strict=True):
                collected.append(measure(config, args, export_root))
                print(
                    f"round {round_index + 1}: {model_name(config)} {config['image']} "
                    f"{config['engine']}: "
                    f"{collected[-1]['timing']['median_ms']:.0f} ms",
                    flush=True,
                )
    rows = [
        summarise_row(config, collected) for config, collected in zip(configs, results, strict=True)
    ]
    add_speedups(rows)
    add_floors(rows, configs)
    print(
        f"\ninference, batch 1, median ms over {args.rounds} x {args.repeats} repeats after "
        f"{args.warmup} warm-up, threads={args.threads}; peak_mem_mb = "
        f"{rows[0]['memory_measure']}, fresh process per row and round; x_floor = median over "
        f"the convolutions' FLOPs at {PEAK_GFLOPS:.0f} GFLOP/s"
    )
    print(harness.format_table(rows, COLUMNS))

    path = harness.write_json(
        "latency",
        {
            "command": harness.command_line("latency", argv),
            "environment": env,
            "rounds": args.rounds,
            "rows": rows,
        },
        args.out,
    )
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
