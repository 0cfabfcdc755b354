"""Finite divergence: a loss that explodes and stays far above its early level.

A too-high learning rate can drive a network into a dead state whose loss stays finite (so
the NaN guard never fires) but far above where it started, e.g. a coarse cross-entropy held
at 60 where it began near 3. Medians make the rule robust: single spikes and the noisy first
iterations do not trigger it, a loss that stays high for most of a window does.
"""

from __future__ import annotations

import statistics
import sys
from collections import deque
from collections.abc import Callable, Sequence

from pointrend.train.callbacks.base import LOSS_TERMS, TrainerCallback
from pointrend.train.callbacks.best_checkpoint import BestCheckpoint
from pointrend.train.callbacks.checkpointing import PeriodicCheckpoint
from pointrend.train.callbacks.interrupt import SaveOnInterrupt
from pointrend.train.callbacks.nan_guard import (
    STABILITY_FIELDS,
    STABILITY_FIXES,
    NonFiniteLossError,
)
from pointrend.utils.distributed import any_rank, is_main_process

# The rule's own settings, as its messages name them.
THRESHOLD_FIELDS = ("baseline_iters", "window", "factor")


class LossDivergedError(NonFiniteLossError):
    """The loss stayed far above its early level; "latest" points at a checkpoint from before."""


class StopOnDivergence(TrainerCallback):
    """baseline = median total loss of the run's first `baseline_iters` iterations; diverged
    when the median of the last `window` iterations exceeds `factor` x baseline. The onset is
    the first iteration of that window above the level. With `stop` training ends (before any
    checkpoint of that iteration) and "latest" moves back to the newest sound checkpoint from
    before the onset; without, a warning names that checkpoint once.

    Messages name the settings a user can change as this callback and the Trainer take them
    (`factor`, `optim.lr`, ...; the error lists them in `fields`); `phrase_settings(message,
    fields)` rewrites them in the printed warning (an application shows its own names there).
    """

    runs_before = {
        cls: "training stops before a diverged network is saved"
        for cls in (PeriodicCheckpoint, BestCheckpoint, SaveOnInterrupt)
    }

    def __init__(
        self,
        baseline_iters: int = 20,
        window: int = 20,
        factor: float = 5.0,
        stop: bool = True,
        phrase_settings: Callable[[str, Sequence[str]], str] | None = None,
    ) -> None:
        self.baseline_iters = baseline_iters
        self.window = window
        self.factor = factor
        self.stop = stop
        self.phrase_settings = phrase_settings
        self.early: list[float] = []
        self.baseline: float | None = None
        self._recent: deque[tuple[int, float]] = deque(maxlen=window)
        self._reported = False

    def state_dict(self) -> dict:
        return {"early": list(self.early), "baseline": self.baseline}

    def set_state_dict(self, state: dict) -> None:
        self.early = list(state.get("early", []))
        self.baseline = state.get("baseline")

    def on_iteration_end(self, iteration: int, logs: dict) -> None:
        loss = sum(logs.get(LOSS_TERMS, {}).values())
        if self.baseline is None:
            self.early.append(loss)
            if len(self.early) >= self.baseline_iters:
                self.baseline = statistics.median(self.early)
            return
        self._recent.append((iteration, loss))
        level = self.factor * self.baseline
        full = len(self._recent) == self._recent.maxlen
        diverged = full and statistics.median(value for _, value in self._recent) > level
        if self._reported or not any_rank(diverged):
            return
        onset = next((i for i, value in self._recent if value > level), iteration)
        first = iteration - len(self._recent) + 1
        what = (
            f"the loss diverged: its median over iterations {first}-{iteration} is "
            f"{statistics.median(v for _, v in self._recent):.4g}, more than "
            f"{self.factor:g}x its early level {self.baseline:.4g} (median of the run's first "
            f"{len(self.early)} iterations), first crossed at iteration {onset}"
        )
        fixes = (
            f"{STABILITY_FIXES} The rule's thresholds: baseline_iters={self.baseline_iters}, "
            f"window={self.window}, factor={self.factor:g}."
        )
        fields = (*STABILITY_FIELDS, *THRESHOLD_FIELDS)
        if self.stop:
            where = self.trainer.fall_back_to_finite_checkpoint(before=onset)
            raise LossDivergedError(f"{what}; training stopped and {where}. {fixes}", fields)
        self._reported = True
        if is_main_process():
            before = self.trainer.finite_checkpoint_before(onset)
            where = (
                f"the last checkpoint from before it is {before}"
                if before
                else ("no checkpoint from before it is kept")
            )
            warning = f"{what}; {where}. {fixes}"
            if self.phrase_settings is not None:
                warning = self.phrase_settings(warning, fields)
            print(f"warning: {warning}", file=sys.stderr, flush=True)
