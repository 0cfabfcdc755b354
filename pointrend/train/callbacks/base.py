"""What every training callback shares: a link to the Trainer and two extra events.

hapi calls `on_train_batch_end` after every micro-batch; with gradient accumulation several
micro-batches make one iteration (one optimizer update). The Trainer turns updates into
`on_iteration_end(iteration, logs)` and finished evaluations into
`on_eval_results(iteration, results)`, so callbacks count in iterations of the schedule.
The logs of `on_iteration_end` carry the iteration's loss terms (mean over its micro-batches)
under LOSS_TERMS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paddle.callbacks import Callback

if TYPE_CHECKING:
    from pointrend.train.trainer import Trainer

LOSS_TERMS = "loss_terms"


class TrainerCallback(Callback):
    trainer: "Trainer"

    def attach(self, trainer: "Trainer") -> None:
        self.trainer = trainer

    def on_iteration_end(self, iteration: int, logs: dict[str, Any]) -> None:
        """After optimizer update number `iteration` (1-based) and the LR step."""

    def on_eval_results(self, iteration: int, results: dict[str, Any]) -> None:
        """After a periodic evaluation, with the evaluate_dataset results."""

    def checkpoint_state(self) -> dict:
        """Plain data (numbers, lists) this callback needs after a resume; saved with every
        checkpoint in the trainer state."""
        return {}

    def restore_checkpoint_state(self, state: dict) -> None:
        """Takes back what `checkpoint_state` returned."""

    def is_due(self, iteration: int, interval: int) -> bool:
        """Every `interval` iterations and at the end of the schedule (interval 0 = only at the end)."""
        return iteration == self.trainer.max_iters or (interval > 0 and iteration % interval == 0)


class LogWindow:
    """What a log line covers: loss terms averaged since the last report, and the iterations per
    second over that span (from the trainer's clock)."""

    def __init__(self) -> None:
        self._sums: dict[str, float] = {}
        self._count = 0
        self._mark: tuple[int, float] = (0, 0.0)

    def start(self, iteration: int, now: float) -> None:
        self._mark = (iteration, now)

    def add(self, values: dict[str, float]) -> None:
        for name, value in values.items():
            self._sums[name] = self._sums.get(name, 0.0) + value
        self._count += 1

    def pop(self, iteration: int, now: float) -> tuple[dict[str, float], float]:
        """(mean of each loss term, iterations per second) since the last pop, and start anew."""
        means = (
            {name: total / self._count for name, total in self._sums.items()} if self._count else {}
        )
        start_iteration, start_time = self._mark
        rate = (iteration - start_iteration) / max(now - start_time, 1e-9)
        self._sums, self._count, self._mark = {}, 0, (iteration, now)
        return means, rate


class IntervalLogger(TrainerCallback):
    """Reports every `interval` iterations on what happened since the last report: the mean of
    each loss term and the iterations per second (from the trainer's clock, which excludes
    evaluation and checkpoint time). Subclasses write the report."""

    def __init__(self, interval: int) -> None:
        self.interval = interval
        self._window = LogWindow()

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._window.start(self.trainer.iteration, self.trainer.clock.elapsed())

    def on_iteration_end(self, iteration: int, logs: dict[str, Any]) -> None:
        self._window.add(logs.get(LOSS_TERMS, {}))
        if self.is_due(iteration, self.interval):
            losses, rate = self._window.pop(iteration, self.trainer.clock.elapsed())
            self.report(iteration, losses, rate)

    def report(self, iteration: int, losses: dict[str, float], rate: float) -> None:
        raise NotImplementedError
