"""Run-time device choice, CPU threads and seeds for a command."""

from __future__ import annotations

from dataclasses import dataclass

import paddle

from pointrend.config.recipe import RecipeError
from pointrend.train.rng import seed_everything
from pointrend.utils.distributed import local_rank, rank, world_size
from pointrend.utils.system import cpu_threads_per_process, gpu_available

DEVICES = ("auto", "cpu", "gpu")


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


def select_device(requested: str = "auto") -> str:
    """ "auto" -> this process's GPU if Paddle sees one, else "cpu"; "cpu"/"gpu" force a choice."""
    if requested not in DEVICES:
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


def setup_runtime(device: str = "auto", seed: int = 0, threads: int = 0) -> Runtime:
    """Pick the device, set CPU threads and seed every generator. Call before building the model."""
    chosen = select_device(device)
    paddle.set_device(chosen)
    if chosen == "cpu":
        paddle.base.core.set_num_threads(cpu_threads_per_process(threads))
    seed_everything(seed)
    return Runtime(device=chosen, rank=rank(), world_size=world_size())
