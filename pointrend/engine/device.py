"""Run-time device choice, CPU threads, seeds and RNG state capture."""
from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np
import paddle

from pointrend.engine.distributed import local_rank, rank, world_size
from pointrend.recipe import RecipeError


class DeviceUnavailableError(RuntimeError):
    """The requested device does not exist in this PaddlePaddle build or machine."""


@dataclass(frozen=True)
class Runtime:
    """Where this process computes and how it relates to the others."""

    device: str  # "cpu" or "gpu:<id>"
    rank: int
    world_size: int

    @property
    def is_gpu(self) -> bool:
        return self.device.startswith("gpu")


def gpu_available() -> bool:
    return paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0


def select_device(requested: str = "auto") -> str:
    """"auto" -> this process's GPU if Paddle sees one, else "cpu"; "cpu"/"gpu" force a choice."""
    if requested not in ("auto", "cpu", "gpu"):
        raise RecipeError(f"--device must be 'auto', 'cpu' or 'gpu', got {requested!r}")
    if requested == "gpu" and not gpu_available():
        raise DeviceUnavailableError(
            "device='gpu' was requested but this PaddlePaddle build sees no GPU "
            f"(compiled with CUDA: {paddle.is_compiled_with_cuda()}). Install the GPU build "
            "(see README, 'GPU install') or pass --device=cpu."
        )
    if requested == "cpu" or (requested == "auto" and not gpu_available()):
        return "cpu"
    return f"gpu:{local_rank()}"


def cpu_threads_per_process(requested: int = 0) -> int:
    """Threads for CPU kernels: `requested`, or all cores split evenly between the processes.

    Set deliberately because `import paddle` pins OMP_NUM_THREADS to 1 when it is unset, which
    silently runs every convolution on one core.
    """
    if requested > 0:
        return requested
    return max(1, (os.cpu_count() or 1) // max(1, world_size()))


def setup_runtime(device: str = "auto", seed: int = 0, threads: int = 0) -> Runtime:
    """Pick the device, set CPU threads and seed every generator. Call before building the model."""
    chosen = select_device(device)
    paddle.set_device(chosen)
    if chosen == "cpu":
        paddle.base.core.set_num_threads(cpu_threads_per_process(threads))
    seed_everything(seed)
    return Runtime(device=chosen, rank=rank(), world_size=world_size())


def seed_everything(seed: int) -> None:
    """The same seed on every rank: the model starts identical everywhere."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    paddle.seed(seed)


def capture_rng_state() -> dict:
    """This process's generator states (paddle, numpy, python random), picklable."""
    return {
        "paddle": paddle.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


def restore_rng_state(state: dict) -> None:
    paddle.set_rng_state(state["paddle"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
