"""Seeds and generator-state capture for exact resume.

States are captured as plain numbers and text (JSON-ready), never as pickled objects, so a
trainer state file cannot run code when it is read back.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import paddle

# std::mt19937_64 written as text: its 312 state words and the position in them.
MT19937_64_WORDS = 313


class RngStateError(ValueError):
    """A saved generator state does not have the layout `capture_rng_state` writes."""


def seed_everything(seed: int) -> None:
    """The same seed on every rank: the model starts identical everywhere."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    paddle.seed(seed)


def capture_rng_state() -> dict[str, Any]:
    """This process's generator states (paddle, numpy, python random) as JSON-ready data."""
    numpy_name, numpy_key, numpy_pos, has_gauss, cached_gaussian = np.random.get_state()
    python_version, python_internal, gauss_next = random.getstate()
    return {
        "paddle": [paddle_generator_to_plain(state) for state in paddle.get_rng_state()],
        "numpy": {
            "algorithm": numpy_name,
            "key": [int(word) for word in numpy_key],
            "pos": int(numpy_pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "python": {
            "version": python_version,
            "internal": list(python_internal),
            "gauss_next": gauss_next,
        },
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    """Set the generators to a `capture_rng_state` result; RngStateError if it is malformed."""
    try:
        paddle_states = [paddle_generator_from_plain(item) for item in state["paddle"]]
        numpy_state = state["numpy"]
        numpy_tuple = (
            str(numpy_state["algorithm"]),
            np.asarray(_int_list(numpy_state["key"], "numpy.key"), dtype=np.uint32),
            int(numpy_state["pos"]),
            int(numpy_state["has_gauss"]),
            float(numpy_state["cached_gaussian"]),
        )
        python_state = state["python"]
        gauss_next = python_state["gauss_next"]
        python_tuple = (
            int(python_state["version"]),
            tuple(_int_list(python_state["internal"], "python.internal")),
            None if gauss_next is None else float(gauss_next),
        )
    except RngStateError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise RngStateError(
            f"malformed random generator state ({type(error).__name__}: {error})"
        ) from error
    paddle.set_rng_state(paddle_states)
    np.random.set_state(numpy_tuple)
    random.setstate(python_tuple)


def paddle_generator_to_plain(state: Any) -> dict[str, Any]:
    """A paddle GeneratorState as numbers and text. Its pickle form (`__getstate__`) is
    (device id, seed, offset, engine state): the engine state is the byte list of the
    generator's textual dump, kept here as a latin-1 string (a lossless byte <-> char map)."""
    device, seed, offset, engine = state.__getstate__()
    return {
        "device": int(device),
        "seed": int(seed),
        "offset": int(offset),
        "engine": bytes(engine).decode("latin1"),
    }


def paddle_generator_from_plain(plain: dict[str, Any]) -> Any:
    """The GeneratorState `paddle_generator_to_plain` described, rebuilt as unpickling does it
    (an empty instance, then `__setstate__`)."""
    engine_text = plain.get("engine")
    engine_text = engine_text if isinstance(engine_text, str) else ""
    words = engine_text.split()
    # Paddle parses the text without checking it: anything but the 313 numbers of an
    # mt19937_64 dump would silently leave a different generator behind.
    if len(words) != MT19937_64_WORDS or not all(word.isdigit() for word in words):
        raise RngStateError(
            f"paddle generator state: engine text is not the {MT19937_64_WORDS} numbers of an "
            "mt19937_64 state"
        )
    state_type = type(paddle.get_rng_state()[0])
    state = state_type.__new__(state_type)
    engine = list(engine_text.encode("latin1"))
    state.__setstate__((int(plain["device"]), int(plain["seed"]), int(plain["offset"]), engine))
    return state


def _int_list(values: Any, field: str) -> list[int]:
    if not isinstance(values, (list, tuple)) or not all(type(v) is int for v in values):
        raise RngStateError(f"{field} must be a list of integers")
    return list(values)
