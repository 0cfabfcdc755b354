"""Periodic checkpoints, written before any evaluation of the same iteration (`runs_before`)."""

from __future__ import annotations

from pointrend.train.callbacks.base import TrainerCallback
from pointrend.train.callbacks.evaluation import PeriodicEvaluation


class PeriodicCheckpoint(TrainerCallback):
    """Saves every `interval` iterations and at the end (interval 0: only at the end)."""

    runs_before = {
        PeriodicEvaluation: "a failing evaluation never costs that iteration's checkpoint"
    }

    def __init__(self, interval: int) -> None:
        self.interval = interval

    def on_iteration_end(self, iteration: int, logs: dict) -> None:
        if self.is_due(iteration, self.interval):
            self.trainer.save_checkpoint()
