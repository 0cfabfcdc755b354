"""Ctrl-C / SIGTERM: finish the current iteration, save a checkpoint, then stop."""

from __future__ import annotations

import signal
import sys

from pointrend.train.callbacks.base import HapiLogs, TrainerCallback
from pointrend.train.callbacks.best_checkpoint import BestCheckpoint
from pointrend.train.callbacks.evaluation import PeriodicEvaluation
from pointrend.utils.distributed import any_rank, is_main_process


class TrainingInterrupted(Exception):
    """Raised after the interrupt checkpoint is written; carries its path (None on ranks other
    than 0, which write nothing)."""

    def __init__(self, iteration: int, checkpoint: str | None) -> None:
        self.iteration = iteration
        self.checkpoint = checkpoint
        super().__init__(
            f"interrupted at iteration {iteration}; checkpoint saved to {checkpoint}. "
            "Continue with Trainer.fit(resume=<that checkpoint or its output directory>)"
        )


class SaveOnInterrupt(TrainerCallback):
    """The first signal is only noted, so weights, optimizer and scheduler are saved at an
    iteration boundary where they agree; a second Ctrl-C aborts at once without saving."""

    runs_after = {
        cls: "an evaluation due at the interrupted iteration still runs and is recorded"
        for cls in (PeriodicEvaluation, BestCheckpoint)
    }
    _SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self._requested = False
        self._previous: dict = {}

    def _handle(self, signum, frame) -> None:
        if self._requested:
            raise KeyboardInterrupt
        self._requested = True
        if is_main_process():
            print(
                f"\n{signal.Signals(signum).name}: saving a checkpoint after this iteration "
                "(Ctrl-C again aborts without saving)",
                file=sys.stderr,
                flush=True,
            )

    def on_train_begin(self, logs: HapiLogs = None) -> None:
        self._requested = False
        for signum in self._SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)

    def on_train_end(self, logs: HapiLogs = None) -> None:
        self.restore_handlers()

    def restore_handlers(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def on_iteration_end(self, iteration: int, logs: dict) -> None:
        if not any_rank(self._requested):
            return
        self.restore_handlers()
        path = self.trainer.save_checkpoint()
        raise TrainingInterrupted(iteration, str(path) if path else None)
