"""After an evaluation: its results go into the checkpoint of that iteration, and best.json
moves to it when the score is the best so far."""

from __future__ import annotations

from pointrend.train.callbacks.base import HapiLogs, TrainerCallback
from pointrend.train.callbacks.evaluation import PeriodicEvaluation
from pointrend.utils.distributed import is_main_process


class BestCheckpoint(TrainerCallback):
    """`metric` (higher is better, read from the evaluation results; None: no best pointer)
    marks the best checkpoint, which retention never deletes. An evaluation that sets a new best
    at an iteration without a periodic checkpoint saves one.
    """

    runs_after = {PeriodicEvaluation: "it needs the score of the same iteration"}

    def __init__(self, metric: str | None = "mIoU") -> None:
        self.metric = metric
        self._best: float | None = None
        self._pending: tuple[int, dict] | None = None

    def on_train_begin(self, logs: HapiLogs = None) -> None:
        if self.metric:
            self._best = self.trainer.checkpoints.best_value(self.metric)

    def on_eval_results(self, iteration: int, results: dict) -> None:
        self._pending = (iteration, results)

    def _new_best(self, results: dict) -> tuple[str, float] | None:
        """(metric, value) when `results` beat the best score so far."""
        if not self.metric or results.get(self.metric) is None:
            return None  # not computed, or undefined (no labelled validation pixel)
        value = float(results[self.metric])
        if self._best is not None and value <= self._best:
            return None
        self._best = value
        return self.metric, value

    def on_iteration_end(self, iteration: int, logs: dict) -> None:
        if self._pending is None or self._pending[0] != iteration:
            return
        results = self._pending[1]
        self._pending = None
        new_best = self._new_best(results)
        # Decided on every rank alike: saving is collective.
        if new_best and self.trainer.saved_iteration != iteration:
            self.trainer.save_checkpoint()
        store = self.trainer.checkpoints
        if not is_main_process() or not store.has(iteration):
            return
        store.record_metrics(iteration, results)
        if new_best:
            metric, value = new_best
            store.mark_best(iteration, metric, value)
            print(f"new best {metric} {value:.4f}: {store.path_of(iteration)}", flush=True)
