"""Checkpoint directories written atomically, with "latest" and "best" pointers.

Layout under <output_dir>/checkpoints:
    iter_0008000/          one checkpoint: model.pdparams (raw weights), optimizer.pdopt (incl. the
                           LR scheduler), [ema.pdparams], [scaler.pdscaler], trainer_state.pkl
                           (iteration, RNG states of every rank), checkpoint.json (iteration,
                           resolved recipe, metrics)
    latest.json, best.json pointers {"checkpoint": "iter_0008000", "iteration": ..., ...}

A checkpoint is written into a hidden ".partial" directory and renamed into place, and a pointer
is replaced with os.replace, so a process killed at any moment leaves the previous "latest"
complete and readable.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import paddle

from pointrend.config.recipe import RecipeError

INFO_FILE = "checkpoint.json"
MODEL_FILE = "model.pdparams"
EMA_FILE = "ema.pdparams"
OPTIMIZER_FILE = "optimizer.pdopt"
SCALER_FILE = "scaler.pdscaler"
STATE_FILE = "trainer_state.pkl"
LATEST = "latest.json"
BEST = "best.json"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, or does not fit the model."""


def _write_json_atomically(path: Path, payload: dict) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    os.replace(tmp, path)


class CheckpointStore:
    """Writes checkpoints into one directory, keeps the newest `keep_last` plus the best one."""

    def __init__(self, directory: str | os.PathLike, keep_last: int = 3) -> None:
        if keep_last < 1:
            raise RecipeError(f"callbacks.checkpoint.keep_last must be >= 1, got {keep_last}")
        self.directory = Path(directory)
        self.keep_last = keep_last

    def save(
        self, iteration: int, state_dicts: dict[str, dict], trainer_state: dict,
        info: dict, best_metric: tuple[str, float] | None = None,
    ) -> Path:
        """Write one checkpoint; `state_dicts` maps file names (MODEL_FILE...) to paddle state
        dicts. `best_metric=(name, value)` also points best.json at it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.path_of(iteration)
        name = final.name
        partial = self.directory / f".{name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        for file_name, state in state_dicts.items():
            paddle.save(state, str(partial / file_name))
        with open(partial / STATE_FILE, "wb") as handle:
            pickle.dump(trainer_state, handle)
        (partial / INFO_FILE).write_text(json.dumps({"iteration": iteration, **info}, indent=2, default=str))
        if final.exists():
            stale = self.directory / f".{name}.stale"
            shutil.rmtree(stale, ignore_errors=True)
            os.rename(final, stale)
            os.rename(partial, final)
            shutil.rmtree(stale)
        else:
            os.rename(partial, final)
        _write_json_atomically(self.directory / LATEST, {"checkpoint": name, "iteration": iteration})
        if best_metric is not None:
            self.mark_best(iteration, *best_metric)
        self._prune()
        return final

    def path_of(self, iteration: int) -> Path:
        return self.directory / f"iter_{iteration:07d}"

    def has(self, iteration: int) -> bool:
        return (self.path_of(iteration) / INFO_FILE).is_file()

    def mark_best(self, iteration: int, metric_name: str, value: float) -> None:
        """Point best.json at the (existing) checkpoint of `iteration`."""
        _write_json_atomically(self.directory / BEST, {
            "checkpoint": self.path_of(iteration).name, "iteration": iteration, metric_name: value})

    def record_metrics(self, iteration: int, metrics: dict) -> None:
        """Add evaluation results to the info file of the (existing) checkpoint of `iteration`."""
        path = self.path_of(iteration) / INFO_FILE
        _write_json_atomically(path, {**json.loads(path.read_text()), "metrics": metrics})

    def _pointer_target(self, pointer: str) -> Path | None:
        path = self.directory / pointer
        if not path.is_file():
            return None
        return self.directory / json.loads(path.read_text())["checkpoint"]

    def latest(self) -> Path | None:
        return self._pointer_target(LATEST)

    def best(self) -> Path | None:
        return self._pointer_target(BEST)

    def best_value(self, metric_name: str) -> float | None:
        path = self.directory / BEST
        return json.loads(path.read_text()).get(metric_name) if path.is_file() else None

    def _prune(self) -> None:
        protected = {self.latest(), self.best()}
        checkpoints = sorted(p for p in self.directory.glob("iter_*") if p.is_dir())
        for old in checkpoints[: -self.keep_last]:
            if old not in protected:
                shutil.rmtree(old)
        for leftover in self.directory.glob(".*.partial"):
            if leftover.is_dir():
                shutil.rmtree(leftover)


def resolve_checkpoint(path: str | os.PathLike, prefer: str = "latest") -> Path:
    """A checkpoint directory from any of: the checkpoint itself, a checkpoints/ directory with
    pointers, or a training output directory. `prefer` ("latest"|"best") picks the pointer;
    "best" falls back to "latest" when no evaluation has run yet."""
    path = Path(path)
    if (path / INFO_FILE).is_file():
        return path
    for directory in (path, path / "checkpoints"):
        pointers = [BEST, LATEST] if prefer == "best" else [LATEST]
        for pointer in pointers:
            target = CheckpointStore(directory)._pointer_target(pointer)
            if target is not None:
                if not (target / INFO_FILE).is_file():
                    raise CheckpointError(f"{directory / pointer} points at {target}, which is not a complete checkpoint")
                return target
    raise CheckpointError(
        f"no checkpoint found at {path}: expected a checkpoint directory (containing {INFO_FILE}) "
        f"or a training output directory with checkpoints/{LATEST}")


def read_info(checkpoint: Path) -> dict[str, Any]:
    return json.loads((checkpoint / INFO_FILE).read_text())


def read_trainer_state(checkpoint: Path) -> dict[str, Any]:
    with open(checkpoint / STATE_FILE, "rb") as handle:
        return pickle.load(handle)


def read_state_dict(checkpoint: Path, file_name: str) -> dict | None:
    path = checkpoint / file_name
    return paddle.load(str(path)) if path.is_file() else None


def _shape(value: Any) -> list[int]:
    return list(value.shape)


def describe_mismatch(model_state: dict, checkpoint_state: dict) -> str | None:
    """None when every model weight is in the checkpoint with the same shape, else a summary."""
    missing = [k for k in model_state if k not in checkpoint_state]
    unexpected = [k for k in checkpoint_state if k not in model_state]
    reshaped = [
        f"{k}: checkpoint {_shape(checkpoint_state[k])}, model {_shape(model_state[k])}"
        for k in model_state
        if k in checkpoint_state and _shape(checkpoint_state[k]) != _shape(model_state[k])
    ]
    parts = []
    for label, items in (("missing from the checkpoint", missing), ("not in the model", unexpected),
                         ("with other shapes", reshaped)):
        if items:
            parts.append(f"{len(items)} weights {label} (e.g. {items[0]})")
    return "; ".join(parts) or None


def recipe_differences(saved: dict, current: dict, prefix: str = "") -> list[str]:
    """Leaf fields whose values differ between two recipe dicts, as 'a.b=saved (here current)'."""
    differences = []
    for key in sorted(set(saved) | set(current)):
        left, right = saved.get(key), current.get(key)
        if isinstance(left, dict) and isinstance(right, dict):
            differences += recipe_differences(left, right, f"{prefix}{key}.")
        elif left != right:
            differences.append(f"{prefix}{key}={left!r} (here {right!r})")
    return differences


def load_weights(network: paddle.nn.Layer, checkpoint: Path, state: dict, current_recipe: dict | None = None) -> None:
    """Set `network` from `state` (read from `checkpoint`), or raise CheckpointError explaining
    why the checkpoint belongs to another model."""
    problem = describe_mismatch(network.state_dict(), state)
    if problem:
        hint = ""
        saved_model = read_info(checkpoint).get("recipe", {}).get("model")
        if saved_model and current_recipe and "model" in current_recipe:
            diffs = recipe_differences(saved_model, current_recipe["model"], "model.")
            if diffs:
                hint = " It was trained with " + ", ".join(diffs) + "."
        raise CheckpointError(f"checkpoint {checkpoint} does not fit this model: {problem}.{hint}")
    network.set_state_dict(state)
