"""Adaptive subdivision alone in every engine, and where its time goes in the exported graph.

    python -m bench.subdivision_engines [--threads 2] [--warmup 1] [--repeats 5] [--quick]
        [--out FILE]

Full size: coarse logits 1x19x256x512 and P2 1x256x256x512 (a 1024x2048 input), 2 steps of
8192 points, the default point head (3 FC of 256), random weights and inputs. The subdivision
call (`adaptive_subdivision`: 2x upsampling, uncertainty, top-k, point sampling, point head,
scatter) is exported as a graph of its own with inputs (coarse logits, P2 features) and run by
dygraph, Paddle Inference with and without oneDNN and ONNX Runtime (when installed), the
engines interleaved repeat by repeat in this one process. Then a child process runs the
oneDNN graph under Paddle Inference's profiler and the per-op totals are reported, largest first.
--quick: coarse 32x64, 64 channels, 2 x 512 points.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import paddle

from bench import harness
from pointrend.models import PointHead
from pointrend.models.subdivision import adaptive_subdivision

NUM_CLASSES = 19
FULL = {"coarse": [256, 512], "channels": 256, "num_points": 8192, "steps": 2}
QUICK = {"coarse": [32, 64], "channels": 64, "num_points": 512, "steps": 2}
PROFILE_LINE = re.compile(r"^thread\d+::(\S+)\s+(\d+)\s+([\d.]+)\s")


class Subdivision(paddle.nn.Layer):
    """(coarse logits [1, K, h, w], fine features [1, C, h, w]) -> refined logits."""

    def __init__(self, channels: int, steps: int, num_points: int):
        super().__init__()
        self.point_head = PointHead(channels, NUM_CLASSES)
        self.steps, self.num_points = steps, num_points

    def forward(self, coarse: paddle.Tensor, fine: paddle.Tensor) -> paddle.Tensor:
        return adaptive_subdivision(coarse, fine, self.point_head, self.steps, self.num_points)


def export(config: dict[str, object], directory: str) -> Subdivision:
    paddle.seed(0)
    layer = Subdivision(config["channels"], config["steps"], config["num_points"])
    layer.eval()
    spec = [
        paddle.static.InputSpec([1, NUM_CLASSES, None, None], "float32", "coarse"),
        paddle.static.InputSpec([1, config["channels"], None, None], "float32", "fine"),
    ]
    # Traced through a wrapper: to_static rebinds the forward of the layer it is given, and the
    # dygraph row must time the layer itself, not the traced program.
    static = paddle.jit.to_static(_Traced(layer), input_spec=spec, full_graph=True)
    paddle.jit.save(static, os.path.join(directory, "model"))
    return layer


class _Traced(paddle.nn.Layer):
    def __init__(self, layer: paddle.nn.Layer):
        super().__init__()
        self.layer = layer

    def forward(self, coarse: paddle.Tensor, fine: paddle.Tensor) -> paddle.Tensor:
        return self.layer(coarse, fine)


def inputs(config: dict[str, object]) -> list[np.ndarray]:
    rng = np.random.RandomState(0)
    height, width = config["coarse"]
    return [
        rng.randn(1, NUM_CLASSES, height, width).astype(np.float32),
        rng.randn(1, config["channels"], height, width).astype(np.float32),
    ]


class _Runner:
    """Paddle Inference over a two-input graph."""

    def __init__(self, directory: str, threads: int, onednn: bool, profile: bool = False):
        import paddle.inference as paddle_infer

        config = paddle_infer.Config(
            os.path.join(directory, "model.json"), os.path.join(directory, "model.pdiparams")
        )
        config.disable_gpu()
        if onednn:
            config.enable_mkldnn()
        else:
            config.disable_mkldnn()
        config.set_cpu_math_library_num_threads(threads)
        config.disable_glog_info()
        if profile:
            config.enable_profile()
        self.predictor = paddle_infer.create_predictor(config)

    def __call__(self, arrays: list[np.ndarray]) -> np.ndarray:
        for name, array in zip(self.predictor.get_input_names(), arrays, strict=True):
            handle = self.predictor.get_input_handle(name)
            handle.reshape(list(array.shape))
            handle.copy_from_cpu(array)
        self.predictor.run()
        return self.predictor.get_output_handle(self.predictor.get_output_names()[0]).copy_to_cpu()


def onnx_session(directory: str, threads: int):
    """ONNX Runtime over the graph, or None when onnxruntime / paddle2onnx are missing."""
    try:
        import onnxruntime
    except ImportError:
        return None
    from pointrend.inference.export import export_onnx

    try:
        path = export_onnx(directory)
    except ImportError:
        return None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    names = [item.name for item in session.get_inputs()]
    return lambda arrays: session.run(None, dict(zip(names, arrays, strict=True)))[0]


def profile_child(spec: dict[str, object]) -> None:
    """Runs the oneDNN graph under the profiler; the report goes to stdout at exit."""
    harness.set_threads(spec["threads"])
    runner = _Runner(spec["directory"], spec["threads"], onednn=True, profile=True)
    arrays = inputs(spec["config"])
    for _ in range(spec["calls"]):
        runner(arrays)


def profile(
    config: dict[str, object], directory: str, threads: int, calls: int
) -> list[dict[str, object]]:
    """Per-op totals (ms over `calls` runs, after one untimed run is not possible with this
    profiler: the first run is included) of the oneDNN graph, largest first."""
    spec = {"config": config, "directory": directory, "threads": threads, "calls": calls}
    command = [
        sys.executable,
        "-m",
        "bench.subdivision_engines",
        "--profile-child",
        json.dumps(spec),
    ]
    # Paddle's profiler also writes profile.log into the working directory: keep it out of the
    # repository.
    with tempfile.TemporaryDirectory(prefix="subdivision_profile_") as scratch:
        environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        completed = subprocess.run(
            command,
            check=False,
            cwd=scratch,
            env=environment,
            capture_output=True,
            text=True,
            timeout=1800,
        )
    if completed.returncode != 0:
        raise RuntimeError(
            f"profiling failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}"
        )
    ops = []
    for line in (completed.stdout + completed.stderr).splitlines():
        match = PROFILE_LINE.match(line.strip())
        if match:
            ops.append(
                {
                    "op": match.group(1),
                    "calls": int(match.group(2)),
                    "ms_per_run": float(match.group(3)) / calls,
                }
            )
    total = sum(op["ms_per_run"] for op in ops) or 1.0
    for op in ops:
        op["share"] = op["ms_per_run"] / total
    return sorted(ops, key=lambda op: -op["ms_per_run"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_arguments(parser)
    parser.set_defaults(repeats=5, warmup=1)
    parser.add_argument("--profile-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    paddle.set_device("cpu")
    if args.profile_child is not None:
        profile_child(json.loads(args.profile_child))
        return 0
    env = harness.begin(args)
    config = QUICK if args.quick else FULL
    arrays = inputs(config)
    with tempfile.TemporaryDirectory(prefix="subdivision_export_") as directory:
        layer = export(config, directory)
        tensors = [paddle.to_tensor(array) for array in arrays]
        candidates = {"dygraph": lambda: layer(*tensors).numpy()}
        onednn = _Runner(directory, args.threads, onednn=True)
        candidates["paddle-inference"] = lambda: onednn(arrays)
        plain = _Runner(directory, args.threads, onednn=False)
        candidates["paddle-inference-no-onednn"] = lambda: plain(arrays)
        session = onnx_session(directory, args.threads)
        if session is not None:
            candidates["onnxruntime"] = lambda: session(arrays)
        with paddle.no_grad():
            reference = layer(*tensors).numpy()
        differences = {
            name: float(np.abs(run() - reference).max()) for name, run in candidates.items()
        }
        with paddle.no_grad():
            timings = harness.time_interleaved(candidates, warmup=args.warmup, repeats=args.repeats)
        ops = profile(config, directory, args.threads, calls=max(2, args.repeats))
    rows = [
        {"engine": name, **timings[name], "max_abs_diff": differences[name]} for name in candidates
    ]
    shape = (
        f"coarse 1x{NUM_CLASSES}x{config['coarse'][0]}x{config['coarse'][1]}, "
        f"{config['steps']} x {config['num_points']} points"
    )
    print(
        f"\nadaptive subdivision alone ({shape}), median ms over {args.repeats} interleaved repeats"
    )
    print(harness.format_table(rows, ["engine", "median_ms", "min_ms", "max_ms", "max_abs_diff"]))
    print("\nPaddle Inference + oneDNN, per op (ms per run, first run included)")
    print(harness.format_table(ops[:15], ["op", "calls", "ms_per_run", "share"]))
    path = harness.write_json(
        "subdivision_engines",
        {
            "command": harness.command_line("subdivision_engines", argv),
            "environment": env,
            "config": config,
            "rows": rows,
            "ops": ops,
        },
        args.out,
    )
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
