"""Checkpoint directories holding weights converted from another codebase.

The same layout as one training checkpoint (see `checkpoint`), so everything that takes a
checkpoint for inference takes it:
    DIR/model.pdparams    {our parameter name: float32 array}, a plain pickle of numpy arrays
                          that the safe reader (`pointrend.utils.paddle_files`) and paddle.load
                          both read; nothing in it runs code
    DIR/checkpoint.json   {"iteration": 0, "recipe": {"model": ..., "data": {normalisation}},
                           "converted_from": {"source", "file", "sha256", ...}}
"recipe" is the part of a recipe the weights fix: every model setting and the image
normalisation their source trained with. No optimizer or trainer state: it cannot resume training.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import paddle

from pointrend.train.checkpoint import INFO_FILE, MODEL_FILE, CheckpointError

CONVERTED_KEY = "converted_from"


class NotResumableError(CheckpointError):
    """A checkpoint of converted weights was given to resume training: it has no optimizer or
    trainer state."""


def converted_from(info: Mapping[str, Any]) -> dict[str, Any] | None:
    """The conversion record of a checkpoint's checkpoint.json; None for a training checkpoint."""
    record = info.get(CONVERTED_KEY)
    return dict(record) if isinstance(record, Mapping) else None


def check_output_directory(directory: Path) -> None:
    """Refuse, before any work, to write over anything but an earlier converted checkpoint."""
    if directory.exists() and not directory.is_dir():
        raise CheckpointError(f"{directory} is a file; name a directory to create")
    if not directory.is_dir() or not any(directory.iterdir()):
        return
    info = directory / INFO_FILE
    try:
        replaceable = info.is_file() and converted_from(json.loads(info.read_text())) is not None
    except (OSError, ValueError):
        replaceable = False
    if not replaceable:
        raise CheckpointError(
            f"{directory} exists and is not a converted checkpoint; name a new or empty directory"
        )


def write_converted_checkpoint(
    directory: str | os.PathLike,
    weights: Mapping[str, np.ndarray],
    recipe: Mapping[str, Any],
    record: Mapping[str, Any],
) -> Path:
    """Write `weights` ({our name: array}) with the `recipe` part they belong to ({"model": ...,
    "data": ...}) and the conversion `record` into `directory`, atomically: a killed run leaves
    the previous contents, never half a checkpoint."""
    directory = Path(directory)
    check_output_directory(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    partial = directory.with_name(f".{directory.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    arrays = {
        name: np.ascontiguousarray(value, dtype=np.float32) for name, value in weights.items()
    }
    # paddle.save writes numpy arrays as they are (its type information lists tensors only).
    paddle.save(arrays, str(partial / MODEL_FILE))  # type: ignore[arg-type]
    info = {"iteration": 0, "recipe": dict(recipe), CONVERTED_KEY: dict(record)}
    (partial / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
    if directory.exists():
        stale = directory.with_name(f".{directory.name}.stale")
        shutil.rmtree(stale, ignore_errors=True)
        os.rename(directory, stale)
        os.rename(partial, directory)
        shutil.rmtree(stale)
    else:
        os.rename(partial, directory)
    return directory
