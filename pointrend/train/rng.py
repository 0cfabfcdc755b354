"""Seeds and generator-state capture for exact resume."""
from __future__ import annotations

import random

import numpy as np
import paddle


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
