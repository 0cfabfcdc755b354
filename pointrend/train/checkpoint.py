"""Checkpoint directories written atomically, with "latest" and "best" pointers.

Layout under <output_dir>/checkpoints:
    iter_0008000/          one checkpoint: model.pdparams (raw weights), optimizer.pdopt (incl. the
                           LR scheduler), [ema.pdparams], [scaler.pdscaler], trainer_state.json
                           (iteration, RNG states of every rank), checkpoint.json (iteration,
                           resolved recipe, metrics)
    latest.json, best.json pointers {"checkpoint": "iter_0008000", "iteration": ..., ...}

A checkpoint is written into a hidden ".partial" directory and renamed into place, and a pointer
is replaced with os.replace, so a process killed at any moment (or a full disk) leaves the
previous "latest" complete and readable.

Reading never runs code from a file: weight files go through the restricted unpickler of
`pointrend.utils.paddle_files` (arrays and plain containers only) and the trainer state is JSON;
the pickled trainer_state.pkl of older checkpoints is read by the same restricted unpickler.
Every damaged or missing file is reported as a CheckpointError naming it and what to do.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import paddle

from pointrend.train.legacy_state import read_legacy_trainer_state
from pointrend.train.settings import TrainingSettingError
from pointrend.utils.atomic_dirs import replace_directory
from pointrend.utils.nested import leaf_differences
from pointrend.utils.output_files import describe_write_failure
from pointrend.utils.paddle_files import load_paddle_object
from pointrend.utils.safe_pickle import CheckpointFormatError, UnsafePickleError

INFO_FILE = "checkpoint.json"
MODEL_FILE = "model.pdparams"
EMA_FILE = "ema.pdparams"
OPTIMIZER_FILE = "optimizer.pdopt"
SCALER_FILE = "scaler.pdscaler"
STATE_FILE = "trainer_state.json"
LEGACY_STATE_FILE = "trainer_state.pkl"
LATEST = "latest.json"
BEST = "best.json"
CHECKPOINT_PREFIX = "iter_"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, or does not fit the model."""


def _write_json_atomically(path: Path, payload: dict) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    try:
        tmp.write_text(json.dumps(payload, indent=2, default=str))
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise CheckpointError(describe_write_failure(error, path.name, path.parent)) from error


class CheckpointStore:
    """Writes checkpoints into one directory, keeps the newest `keep_last` plus the best one."""

    def __init__(self, directory: str | os.PathLike, keep_last: int = 3) -> None:
        if keep_last < 1:
            raise TrainingSettingError(f"keep_last must be >= 1, got {keep_last}")
        self.directory = Path(directory)
        self.keep_last = keep_last

    def save(
        self,
        iteration: int,
        state_dicts: dict[str, dict],
        trainer_state: dict,
        info: dict,
        best_metric: tuple[str, float] | None = None,
    ) -> Path:
        """Write one checkpoint; `state_dicts` maps file names (MODEL_FILE...) to paddle state
        dicts. `best_metric=(name, value)` also points best.json at it."""
        final = self.path_of(iteration)
        name = final.name
        partial = self.directory / f".{name}.partial"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            for file_name, state in state_dicts.items():
                paddle.save(state, str(partial / file_name))
            (partial / STATE_FILE).write_text(json.dumps(trainer_state))
            (partial / INFO_FILE).write_text(
                json.dumps({"iteration": iteration, **info}, indent=2, default=str)
            )
        except OSError as error:
            shutil.rmtree(partial, ignore_errors=True)
            previous = self._latest_name_or_none()
            kept = f"; the latest checkpoint is still {previous}" if previous else ""
            raise CheckpointError(
                describe_write_failure(error, f"checkpoint {name}", self.directory) + kept
            ) from error
        replace_directory(partial, final)
        _write_json_atomically(
            self.directory / LATEST, {"checkpoint": name, "iteration": iteration}
        )
        if best_metric is not None:
            self.mark_best(iteration, *best_metric)
        self._prune()
        return final

    def path_of(self, iteration: int) -> Path:
        return self.directory / f"{CHECKPOINT_PREFIX}{iteration:07d}"

    def has(self, iteration: int) -> bool:
        return (self.path_of(iteration) / INFO_FILE).is_file()

    def mark_best(self, iteration: int, metric_name: str, value: float) -> None:
        """Point best.json at the (existing) checkpoint of `iteration`."""
        _write_json_atomically(
            self.directory / BEST,
            {
                "checkpoint": self.path_of(iteration).name,
                "iteration": iteration,
                metric_name: value,
            },
        )

    def record_metrics(self, iteration: int, metrics: dict) -> None:
        """Add evaluation results to the info file of the (existing) checkpoint of `iteration`."""
        path = self.path_of(iteration) / INFO_FILE
        _write_json_atomically(path, {**read_info(path.parent), "metrics": metrics})

    def point_latest_at(self, checkpoint: Path) -> None:
        _write_json_atomically(
            self.directory / LATEST,
            {"checkpoint": checkpoint.name, "iteration": checkpoint_iteration(checkpoint)},
        )

    def _read_pointer(self, pointer: str) -> dict | None:
        """The pointer's content, None when it does not exist; CheckpointError when damaged."""
        path = self.directory / pointer
        if not path.is_file():
            return None
        try:
            text = path.read_text(encoding="utf-8")
            payload = json.loads(text)
        except (OSError, UnicodeDecodeError, ValueError):
            problem = "is empty" if not path.stat().st_size else "is not valid JSON"
            raise CheckpointError(f"{path} {problem}: {self._pointer_way_out(path)}") from None
        target = payload.get("checkpoint") if isinstance(payload, dict) else None
        if not isinstance(target, str) or not target.startswith(CHECKPOINT_PREFIX) or "/" in target:
            raise CheckpointError(
                f'{path} names no checkpoint (no "checkpoint": '
                f'"{CHECKPOINT_PREFIX}..." entry): {self._pointer_way_out(path)}'
            )
        return payload

    def _pointer_way_out(self, path: Path) -> str:
        complete = complete_checkpoints(self.directory)
        newest = f" (the newest complete one here is {complete[-1]})" if complete else ""
        return f"delete it, or name a checkpoint directory directly{newest}"

    def _pointer_target(self, pointer: str) -> Path | None:
        payload = self._read_pointer(pointer)
        return None if payload is None else self.directory / payload["checkpoint"]

    def _latest_name_or_none(self) -> str | None:
        try:
            latest = self.latest()
        except CheckpointError:
            return None
        return latest.name if latest is not None else None

    def latest(self) -> Path | None:
        return self._pointer_target(LATEST)

    def best(self) -> Path | None:
        return self._pointer_target(BEST)

    def best_value(self, metric_name: str) -> float | None:
        payload = self._read_pointer(BEST)
        return None if payload is None else payload.get(metric_name)

    def _prune(self) -> None:
        protected = {self.latest(), self.best()}
        checkpoints = sorted(p for p in self.directory.glob("iter_*") if p.is_dir())
        for old in checkpoints[: -self.keep_last]:
            if old not in protected:
                shutil.rmtree(old)
        for leftover in self.directory.glob(".*.partial"):
            if leftover.is_dir():
                shutil.rmtree(leftover)


def checkpoint_iteration(checkpoint: Path) -> int:
    """The iteration in a checkpoint directory's name (iter_0008000 -> 8000)."""
    return int(checkpoint.name[len(CHECKPOINT_PREFIX) :])


def complete_checkpoints(directory: Path) -> list[Path]:
    """The checkpoint directories under `directory` whose write finished, oldest first."""
    return sorted(p for p in directory.glob(f"{CHECKPOINT_PREFIX}*") if (p / INFO_FILE).is_file())


def resolve_checkpoint(path: str | os.PathLike, prefer: str = "latest") -> Path:
    """A checkpoint directory from any of: the checkpoint itself, a checkpoints/ directory with
    pointers, or a training output directory. `prefer` ("latest"|"best") picks the pointer;
    "best" falls back to "latest" when no evaluation has run yet. Without any pointer (a run
    killed between its first checkpoint and the pointer write) the newest complete checkpoint is
    used, with a note."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(
            f"{path} does not exist: give a checkpoint directory or a training output directory"
        )
    if (path / INFO_FILE).is_file():
        return path
    if path.name.startswith(CHECKPOINT_PREFIX) and (path / MODEL_FILE).exists():
        raise CheckpointError(
            f"{path} is an incomplete checkpoint (no {INFO_FILE}: its write was "
            f"cut short): {_way_out(path)}"
        )
    for directory in (path, path / "checkpoints"):
        pointers = [BEST, LATEST] if prefer == "best" else [LATEST]
        for pointer in pointers:
            target = CheckpointStore(directory)._pointer_target(pointer)
            if target is not None:
                if not (target / INFO_FILE).is_file():
                    way_out = CheckpointStore(directory)._pointer_way_out(directory / pointer)
                    raise CheckpointError(
                        f"{directory / pointer} points at {target}, which is not a complete "
                        f"checkpoint: {way_out}"
                    )
                return target
    for directory in (path, path / "checkpoints"):
        complete = complete_checkpoints(directory)
        if complete:
            print(
                f"note: {directory / LATEST} is missing: using the newest complete checkpoint "
                f"{complete[-1]}",
                flush=True,
            )
            return complete[-1]
    raise CheckpointError(
        f"no checkpoint found at {path}: expected a checkpoint directory (containing {INFO_FILE}) "
        f"or a training output directory with checkpoints/{LATEST}"
    )


def _way_out(checkpoint: Path) -> str:
    """What to do about a damaged checkpoint: the newest complete one beside it, if any."""
    others = [p for p in complete_checkpoints(checkpoint.parent) if p.name != checkpoint.name]
    if others:
        return f"use another checkpoint, e.g. {others[-1]}, or delete {checkpoint}"
    return f"delete {checkpoint} (no other complete checkpoint is beside it)"


def read_info(checkpoint: Path) -> dict[str, Any]:
    path = checkpoint / INFO_FILE
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing: {_way_out(checkpoint)}") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CheckpointError(f"{path} is damaged ({error}): {_way_out(checkpoint)}") from None
    if not isinstance(info, dict):
        raise CheckpointError(f"{path} is not a checkpoint description: {_way_out(checkpoint)}")
    return info


def read_trainer_state(checkpoint: Path) -> dict[str, Any]:
    """{"iteration": int, "rng": [one `capture_rng_state()` dict per rank], "callbacks":
    {name: plain data}}."""
    path = checkpoint / STATE_FILE
    legacy = checkpoint / LEGACY_STATE_FILE
    if not path.is_file() and legacy.is_file():
        try:
            return read_legacy_trainer_state(legacy)
        except UnsafePickleError as error:
            raise CheckpointError(f"{error}; nothing from it was run") from None
        except (OSError, ValueError) as error:
            raise CheckpointError(f"{error}: {_way_out(checkpoint)}") from None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing: {_way_out(checkpoint)}") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        problem = "is empty" if path.stat().st_size == 0 else f"is truncated or damaged ({error})"
        raise CheckpointError(f"{path} {problem}: {_way_out(checkpoint)}") from None
    if not isinstance(state, dict) or type(state.get("iteration")) is not int:
        raise CheckpointError(f"{path} has no iteration number: {_way_out(checkpoint)}")
    return state


@overload
def read_state_dict(
    checkpoint: Path, file_name: str, required: Literal[True], as_tensors: bool = True
) -> dict: ...


@overload
def read_state_dict(
    checkpoint: Path, file_name: str, required: bool = False, as_tensors: bool = True
) -> dict | None: ...


def read_state_dict(
    checkpoint: Path, file_name: str, required: bool = False, as_tensors: bool = True
) -> dict | None:
    """What paddle.save wrote to `checkpoint / file_name`, read without running code from it:
    arrays become paddle Tensors (as paddle.load returns them) unless `as_tensors` is False.
    None for a missing optional file; CheckpointError for a missing required or damaged one."""
    path = checkpoint / file_name
    if not path.is_file():
        if required:
            raise CheckpointError(f"{path} is missing: {_way_out(checkpoint)}")
        return None
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes): {_way_out(checkpoint)}")
    try:
        state = load_paddle_object(path)
    except UnsafePickleError as error:
        raise CheckpointError(f"{error}; nothing from it was run") from None
    except (OSError, ValueError, CheckpointFormatError) as error:
        raise CheckpointError(f"{error}: {_way_out(checkpoint)}") from None
    if not isinstance(state, dict):
        raise CheckpointError(
            f"{path} holds a {type(state).__name__}, not a state dict: {_way_out(checkpoint)}"
        )
    return _arrays_to_tensors(state) if as_tensors else state


def _arrays_to_tensors(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return paddle.to_tensor(obj)
    if isinstance(obj, dict):
        return {key: _arrays_to_tensors(value) for key, value in obj.items()}
    return obj


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
    for label, items in (
        ("missing from the checkpoint", missing),
        ("not in the model", unexpected),
        ("with other shapes", reshaped),
    ):
        if items:
            parts.append(f"{len(items)} weights {label} (e.g. {items[0]})")
    return "; ".join(parts) or None


def load_weights(
    network: paddle.nn.Layer, checkpoint: Path, state: dict, current_recipe: dict | None = None
) -> None:
    """Set `network` from `state` (read from `checkpoint`), or raise CheckpointError explaining
    why the checkpoint belongs to another model."""
    problem = describe_mismatch(network.state_dict(), state)
    if problem:
        hint = ""
        saved_model = read_info(checkpoint).get("recipe", {}).get("model")
        if saved_model and current_recipe and "model" in current_recipe:
            diffs = leaf_differences(saved_model, current_recipe["model"], "model.")
            if diffs:
                hint = " It was trained with " + ", ".join(diffs) + "."
        raise CheckpointError(f"checkpoint {checkpoint} does not fit this model: {problem}.{hint}")
    network.set_state_dict(state)
