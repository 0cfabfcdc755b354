"""Shared timing harness for the bench scripts.

A bench script builds a list of cases, times each with `time_interleaved` (the candidates of one
case run in turn, repeat by repeat, so background load hits them alike and their ratios are fair),
prints `format_table` and stores everything with `write_json` next to `environment()`.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def add_common_arguments(parser: argparse.ArgumentParser, default_threads: int = 2) -> None:
    """--threads, --warmup, --repeats, --quick and --out, shared by every bench script."""
    parser.add_argument(
        "--threads",
        type=int,
        default=default_threads,
        help="CPU threads for Paddle, PyTorch and the pointrend kernel alike (default %(default)s)",
    )
    parser.add_argument(
        "--warmup", type=int, default=2, help="untimed calls per candidate (default %(default)s)"
    )
    parser.add_argument(
        "--repeats", type=int, default=7, help="timed calls per candidate (default %(default)s)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer cases and repeats, for a smoke run"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON file (default bench/results/<name>.json)"
    )


def set_threads(num_threads: int) -> dict[str, int]:
    """Applies one CPU thread count to Paddle, PyTorch (if importable) and the pointrend kernel."""
    import paddle

    from pointrend.ops import set_num_threads

    os.environ["OMP_NUM_THREADS"] = str(num_threads)
    paddle.set_flags({"FLAGS_paddle_num_threads": num_threads})
    paddle.base.core.set_num_threads(num_threads)
    set_num_threads(num_threads)
    applied = {"paddle": num_threads, "pointrend": num_threads}
    torch = optional_torch()
    if torch is not None:
        torch.set_num_threads(num_threads)
        applied["torch"] = torch.get_num_threads()
    return applied


def optional_torch():
    """PyTorch if it is installed (it is only ever a comparison point), else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def synchronize() -> None:
    """Waits for queued GPU work so that a timer measures it; a no-op on CPU."""
    import paddle

    if paddle.device.get_device().startswith("gpu"):
        paddle.device.synchronize()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.synchronize()


def summarise(times_ms: Sequence[float]) -> dict[str, float]:
    """Median and spread (min, max, quartiles) of a list of timings in milliseconds."""
    ordered = sorted(times_ms)
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) > 1 else [ordered[0]] * 3
    return {
        "median_ms": statistics.median(ordered),
        "min_ms": ordered[0],
        "max_ms": ordered[-1],
        "q1_ms": quartiles[0],
        "q3_ms": quartiles[2],
        "repeats": len(ordered),
    }


def time_interleaved(
    candidates: Mapping[str, Callable[[], object]], warmup: int = 2, repeats: int = 7
) -> dict[str, dict[str, float]]:
    """Times each zero-argument callable; one repeat of every candidate before the next repeat."""
    for _ in range(warmup):
        for run in candidates.values():
            run()
    synchronize()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, run in candidates.items():
            start = time.perf_counter()
            run()
            synchronize()
            samples[name].append((time.perf_counter() - start) * 1000.0)
    return {name: summarise(times) for name, times in samples.items()}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(threads: Mapping[str, int] | None = None) -> dict[str, object]:
    """What the numbers depend on: device, library versions, CPU model and thread counts."""
    import paddle

    from pointrend.ops.native import native_available, native_has_openmp

    record: dict[str, object] = {
        "device": paddle.device.get_device(),
        "paddle": paddle.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "threads": dict(threads or {}),
        # Other processes competing for the CPUs inflate times; the 1-minute load says how much.
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "pointrend_kernel": native_available(),
        "pointrend_kernel_openmp": native_has_openmp(),
    }
    torch = optional_torch()
    record["torch"] = torch.__version__ if torch is not None else None
    return record


def format_table(rows: Sequence[Mapping[str, object]], columns: Sequence[str]) -> str:
    """A plain-text (and Markdown-compatible) table of the given columns; floats get 2 decimals."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.2f}" if abs(value) >= 0.01 or value == 0 else f"{value:.1e}"
        return "" if value is None else str(value)

    cells = [[cell(row.get(column)) for column in columns] for row in rows]
    widths = [
        max([len(column)] + [len(line[i]) for line in cells]) for i, column in enumerate(columns)
    ]

    def join(values):
        return (
            "| "
            + " | ".join(value.ljust(width) for value, width in zip(values, widths, strict=True))
            + " |"
        )

    separator = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([join(columns), separator] + [join(line) for line in cells])


def begin(args: argparse.Namespace) -> dict[str, object]:
    """The common start of a run: --quick caps the repeats, threads are set, and the environment
    record is printed and returned."""
    if args.quick:
        args.repeats, args.warmup = min(args.repeats, 2), min(args.warmup, 1)
    record = environment(set_threads(args.threads))
    print_environment(record)
    return record


def command_line(name: str, argv: Sequence[str] | None) -> str:
    """How this run was started, for the JSON record."""
    return " ".join([f"python -m bench.{name}", *(sys.argv[1:] if argv is None else argv)])


def print_environment(record: Mapping[str, object]) -> None:
    for key, value in record.items():
        print(f"{key:>24}: {value}")


def write_json(name: str, payload: Mapping[str, object], out: Path | None = None) -> Path:
    """Writes `payload` to `out` or bench/results/<name>.json and returns the path."""
    path = Path(out) if out is not None else RESULTS_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path
