"""Reading the pickled `trainer_state.pkl` of checkpoints written before trainer state became
JSON, without running code from it.

That file holds {"iteration": int, "rng": [per-rank states]}, each rank's state as
`paddle.get_rng_state()` (a list of paddle GeneratorState objects), `np.random.get_state()` and
`random.getstate()`. Besides numpy's arrays it names one global, paddle's GeneratorState, which
pickle rebuilds as "empty instance, then `__setstate__((device, seed, offset, engine bytes))`".
A stand-in takes that place and only keeps the numbers; everything else is refused by the
restricted unpickler. The result is converted to the form `capture_rng_state` returns now.
"""

from __future__ import annotations

import os
from typing import Any

from pointrend.utils.safe_pickle import UnsafePickleError, refuse, restricted_load

GENERATOR_STATE_GLOBALS = (
    ("paddle.base.libpaddle", "GeneratorState"),
    ("paddle.fluid.libpaddle", "GeneratorState"),
    ("paddle.fluid.core_avx", "GeneratorState"),
)


class SavedGeneratorState:
    """Stands in for paddle's GeneratorState while unpickling: keeps the four numbers only."""

    __slots__ = ("plain",)

    def __setstate__(self, state: Any) -> None:
        if (
            type(state) is not tuple
            or len(state) != 4
            or not all(type(value) is int for value in state[:3])
            or type(state[3]) is not list
            or not all(type(byte) is int and 0 <= byte < 256 for byte in state[3])
        ):
            raise ValueError("a paddle generator state that is not (device, seed, offset, bytes)")
        device, seed, offset, engine = state
        self.plain = {
            "device": device,
            "seed": seed,
            "offset": offset,
            "engine": bytes(engine).decode("latin1"),
        }


def read_legacy_trainer_state(path: str | os.PathLike) -> dict[str, Any]:
    """{"iteration": int, "rng": [capture_rng_state()-form dicts]} from an old pickled state."""
    origin = str(path)
    stand_ins = {name: SavedGeneratorState for name in GENERATOR_STATE_GLOBALS}
    with open(path, "rb") as handle:
        loaded = restricted_load(handle, origin, stand_ins, extra_leaves=(SavedGeneratorState,))
    try:
        return {
            "iteration": int(loaded["iteration"]),
            "rng": [_plain_rank_state(rank_state, origin) for rank_state in loaded["rng"]],
        }
    except UnsafePickleError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(
            f"{origin}: not a trainer state ({type(error).__name__}: {error})"
        ) from error


def _plain_rank_state(state: dict, origin: str) -> dict[str, Any]:
    paddle_states = state["paddle"]
    if not all(isinstance(item, SavedGeneratorState) for item in paddle_states):
        raise refuse(origin, "a paddle generator state of another type")
    numpy_name, numpy_key, numpy_pos, has_gauss, cached_gaussian = state["numpy"]
    python_version, python_internal, gauss_next = state["python"]
    return {
        "paddle": [item.plain for item in paddle_states],
        "numpy": {
            "algorithm": str(numpy_name),
            "key": [int(word) for word in numpy_key],
            "pos": int(numpy_pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "python": {
            "version": int(python_version),
            "internal": [int(v) for v in python_internal],
            "gauss_next": None if gauss_next is None else float(gauss_next),
        },
    }
