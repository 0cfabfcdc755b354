"""Which tensors of a state dict hold NaN or infinity.

A checkpoint is written only from finite weights, resuming or evaluating non-finite ones is
refused, and a numerical failure points "latest" back at the newest checkpoint that is sound.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import paddle

from pointrend.train.checkpoint import CheckpointError


def _is_finite(value: Any) -> bool:
    if isinstance(value, paddle.Tensor):
        if not paddle.is_floating_point(value) or value.size == 0:
            return True
        return bool(paddle.isfinite(value).all())
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        return bool(np.isfinite(value).all())
    return True


def non_finite_tensors(state: dict, prefix: str = "") -> tuple[list[str], int]:
    """(names of the floating-point tensors holding NaN/inf, number of tensors looked at), over
    `state` and the dicts nested in it (optimizer state: LR scheduler, master weights)."""
    bad: list[str] = []
    count = 0
    for name, value in state.items():
        if isinstance(value, dict):
            nested_bad, nested_count = non_finite_tensors(value, f"{prefix}{name}.")
            bad += nested_bad
            count += nested_count
        elif isinstance(value, (paddle.Tensor, np.ndarray)):
            count += 1
            if not _is_finite(value):
                bad.append(f"{prefix}{name}")
    return bad, count


def describe_non_finite(bad: list[str], count: int) -> str:
    """'72 of 147 tensors are NaN/inf (e.g. backbone.conv1.weight)'"""
    return f"{len(bad)} of {count} tensors are NaN/inf (e.g. {bad[0]})"


def refuse_non_finite(state: dict, checkpoint: Path, purpose: str) -> None:
    """CheckpointError when the weights read from `checkpoint` hold NaN/inf."""
    bad, count = non_finite_tensors(state)
    if bad:
        raise CheckpointError(
            f"{checkpoint} holds non-finite weights ({describe_non_finite(bad, count)}): {purpose} "
            f"would give meaningless results; use an earlier checkpoint of "
            f"{checkpoint.parent} (a run stopped by the NaN guard names the newest sound one)"
        )
