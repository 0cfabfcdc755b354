"""Periodic checkpoints, written before any evaluation of the same iteration, so a failing
evaluation never costs that iteration's checkpoint."""

from __future__ import annotations

from pointrend.train.callbacks.base import TrainerCallback


class PeriodicCheckpoint(TrainerCallback):
    """Saves every `interval` iterations and at the end (interval 0: only at the end).

    Must come before PeriodicEvaluation in the callback list.
    """

    def __init__(self, interval: int) -> None:
        self.interval = interval

    def on_iteration_end(self, iteration: int, logs: dict) -> None:
        if self.is_due(iteration, self.interval):
            self.trainer.save_checkpoint()
