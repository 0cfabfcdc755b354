"""Peak memory of one configuration, measured in a fresh Python process.

A process's peak resident size only ever grows, so one configuration per process is the only way
to attribute a peak to it. A bench script re-runs itself as `python -m bench.<name> --child JSON`
(`run_child`); the child builds its inputs, measures its calls inside `PeakMemory` and prints one
JSON line (`emit_child_result`).

What is measured:
- CPU: the growth of the resident set size (RSS) during the measured calls, i.e. the peak RSS
  minus the RSS just before the first call. This counts everything the calls allocate, including
  memory the allocator keeps cached, and excludes the model weights and inputs created before.
  The peak is the kernel's high-water mark VmHWM, reset just before the calls (Linux
  /proc/self/clear_refs). Not getrusage's ru_maxrss: Linux carries the parent's peak over
  fork + exec into it, so a child started by a big parent would report the parent's peak.
- GPU: paddle.device.cuda.max_memory_allocated after resetting it before the first call
  (tensor allocations only, not the CUDA context).
"""

import json
import os
import resource
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULT_PREFIX = "BENCH_CHILD_RESULT "


def current_rss_mb() -> float:
    """Resident set size of this process now, in MiB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            resident_pages = int(statm.read().split()[1])
    except OSError:
        return 0.0
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _status_kib(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def reset_peak_rss() -> bool:
    """Resets this process's RSS high-water mark to its current RSS; False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Largest resident set size of this process (since the last reset), in MiB."""
    try:
        return _status_kib("VmHWM") / 1024.0
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _on_gpu() -> bool:
    import paddle

    return paddle.device.get_device().startswith("gpu")


class PeakMemory:
    """Context manager: the memory the enclosed calls needed at their peak (module docstring)."""

    def __enter__(self) -> "PeakMemory":
        self.gpu = _on_gpu()
        if self.gpu:
            import paddle

            paddle.device.cuda.reset_max_memory_allocated()
        self.peak_reset = reset_peak_rss()
        self.rss_before_mb = current_rss_mb()
        return self

    def __exit__(self, *exc_info) -> None:
        if self.gpu:
            import paddle

            self.peak_mb = paddle.device.cuda.max_memory_allocated() / 2**20
            self.kind = "cuda max_memory_allocated"
        else:
            self.peak_mb = max(peak_rss_mb() - self.rss_before_mb, 0.0)
            self.kind = "peak RSS growth over the RSS before the first call" + (
                "" if self.peak_reset else " (peak not resettable here: an upper bound)"
            )
        self.process_peak_rss_mb = peak_rss_mb()

    def record(self) -> dict[str, object]:
        return {
            "peak_mem_mb": self.peak_mb,
            "process_peak_rss_mb": self.process_peak_rss_mb,
            "memory_measure": self.kind,
        }


def emit_child_result(result: Mapping[str, object]) -> None:
    """Prints the child's result as the one line `run_child` looks for."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def run_child(
    module: str,
    config: Mapping[str, object],
    extra_args: list[str] | None = None,
    timeout: float | None = None,
) -> dict[str, object]:
    """Runs `python -m <module> --child <config as JSON>` from the repository root and returns the
    dict the child emitted. The child's other output is passed through; a failing child raises."""
    command = [sys.executable, "-m", module, "--child", json.dumps(config)] + list(extra_args or [])
    completed = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout
    )
    lines = completed.stdout.splitlines()
    results = [line[len(RESULT_PREFIX) :] for line in lines if line.startswith(RESULT_PREFIX)]
    if completed.returncode != 0 or not results:
        raise RuntimeError(
            f"{' '.join(command)} failed with exit status {completed.returncode}:\n"
            f"{completed.stdout[-2000:]}\n{completed.stderr[-4000:]}"
        )
    return json.loads(results[-1])
