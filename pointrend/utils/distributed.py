"""Process-group helpers: who am I, how many of us, and agreeing on a flag.

Everything here works in a single process too (world size 1, rank 0), so callers never branch
on whether training is distributed.
"""

from __future__ import annotations

import paddle
import paddle.distributed as dist


def world_size() -> int:
    return dist.get_world_size()


def rank() -> int:
    return dist.get_rank()


def local_rank() -> int:
    return paddle.distributed.ParallelEnv().local_rank


def unwrap_parallel(model: paddle.nn.Layer) -> paddle.nn.Layer:
    """The network inside a paddle.DataParallel wrapper (or `model` itself)."""
    return model._layers if isinstance(model, paddle.DataParallel) else model


def is_main_process() -> bool:
    """Only this process logs, prints tables and writes files."""
    return rank() == 0


def any_rank(flag: bool) -> bool:
    """True on every rank if `flag` is True on at least one rank.

    Stopping decisions (NaN loss, Ctrl-C) must be taken by all ranks at the same iteration, or
    the ranks that keep going block forever in the next gradient all-reduce.
    """
    if world_size() == 1:
        return flag
    value = paddle.to_tensor([1 if flag else 0], dtype="int32")
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def gather_objects(obj: object) -> list:
    """All ranks' `obj`, in rank order (a one-element list in a single process)."""
    if world_size() == 1:
        return [obj]
    gathered: list = []
    dist.all_gather_object(gathered, obj)
    return gathered


def convert_to_sync_batchnorm(network: paddle.nn.Layer) -> paddle.nn.Layer:
    """BatchNorm layers -> SyncBatchNorm, so statistics cover the global batch.

    Only meaningful on GPU with several processes: Paddle has no CPU kernel for SyncBatchNorm.
    """
    return paddle.nn.SyncBatchNorm.convert_sync_batchnorm(network)
