"""Runs every benchmark, each in its own process, and writes their JSON files to one folder.

    python -m bench [--quick] [--threads 2] [--only NAME ...] [--results-dir DIR]

Scripts, in order (each also runs alone as `python -m bench.<name>`):
  point_ops     point_sample / selection ops against Paddle's (and PyTorch's) grid_sample
  data_loading  images/s of the Cityscapes training input pipeline
  subdivision   adaptive subdivision: stage breakdown, share of the forward pass, vs a dense head
  latency       end-to-end inference latency and peak memory, SemanticFPN (+PointRend), R-50/R-101
  train_step    training step time (images/s) and peak memory at batch 2
--quick runs the smoke-sized version of each (under 2 minutes on 2 CPU cores) and, unless
--results-dir is given, writes to bench/results/quick/ so that the full results stay untouched.
Exit status: the number of scripts that failed.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
SCRIPTS = ("point_ops", "data_loading", "subdivision", "latency", "train_step")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke-sized runs (under 2 minutes on 2 cores)"
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="CPU threads for every script (default %(default)s)"
    )
    parser.add_argument(
        "--only", nargs="+", choices=SCRIPTS, default=list(SCRIPTS), help="run only these scripts"
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=None,
        help="folder for <name>.json (default bench/results, or bench/results/quick with --quick)",
    )
    args = parser.parse_args(argv)
    repo_root = BENCH_DIR.parent
    results_dir = (
        args.results_dir or BENCH_DIR / "results" / ("quick" if args.quick else "")
    ).resolve()
    results_dir.mkdir(parents=True, exist_ok=True)
    if results_dir.is_relative_to(repo_root):  # the scripts run from the repository root
        results_dir = results_dir.relative_to(repo_root)
    print(f"threads={args.threads}, results in {results_dir}", flush=True)

    failed = []
    for name in args.only:
        command = [
            sys.executable,
            "-m",
            f"bench.{name}",
            "--threads",
            str(args.threads),
            "--out",
            str(results_dir / f"{name}.json"),
        ] + (["--quick"] if args.quick else [])
        print(f"\n=== {' '.join(command[1:])}", flush=True)
        start = time.perf_counter()
        status = subprocess.call(command, cwd=repo_root)
        print(
            f"=== bench.{name}: exit status {status}, {time.perf_counter() - start:.0f} s",
            flush=True,
        )
        if status != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return len(failed)


if __name__ == "__main__":
    sys.exit(main())
