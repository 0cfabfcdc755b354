"""What this machine offers: a visible GPU, CPU threads per process."""

from __future__ import annotations

import os

import paddle

from pointrend.utils.distributed import world_size


def gpu_available() -> bool:
    return paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cpu_threads_per_process(requested: int = 0) -> int:
    """Threads for CPU kernels: `requested`, or all cores split evenly between the processes.

    Set deliberately because `import paddle` pins OMP_NUM_THREADS to 1 when it is unset, which
    silently runs every convolution on one core.
    """
    if requested > 0:
        return requested
    return max(1, usable_cpus() // max(1, world_size()))
