"""Periodic checkpoints, plus one whenever an evaluation sets a new best score."""
from __future__ import annotations

from pointrend.train.callbacks.base import TrainerCallback


class PeriodicCheckpoint(TrainerCallback):
    """Saves every `interval` iterations and at the end; `best_metric` (higher is better, read
    from the evaluation results) marks the best checkpoint, which retention never deletes."""

    def __init__(self, interval: int, best_metric: str | None = "mIoU") -> None:
        self.interval = interval
        self.best_metric = best_metric
        self._best: float | None = None
        self._new_best: tuple[str, float] | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.best_metric:
            self._best = self.trainer.checkpoints.best_value(self.best_metric)

    def on_eval_results(self, iteration: int, results: dict) -> None:
        if not self.best_metric or self.best_metric not in results:
            return
        value = float(results[self.best_metric])
        if self._best is None or value > self._best:
            self._best = value
            self._new_best = (self.best_metric, value)

    def on_iteration_end(self, iteration: int, logs: dict) -> None:
        if self._new_best is None and not self.is_due(iteration, self.interval):
            return
        self.trainer.save_checkpoint(best_metric=self._new_best)
        self._new_best = None
