"""Advances the iteration schedule: LR step and iteration count once per optimizer update."""

from __future__ import annotations

from paddle.callbacks import LRScheduler

from pointrend.train.callbacks.base import LOSS_TERMS, TrainerCallback
from pointrend.train.callbacks.nan_guard import StopOnNonFiniteLoss
from pointrend.train.callbacks.unlabelled import WarnOnUnlabelledBatches


class ScheduleClock(LRScheduler, TrainerCallback):
    """hapi's LRScheduler stepped per optimizer update instead of per micro-batch.

    It subclasses LRScheduler so hapi does not append its own (which would step the LR a
    second time), and the Trainer puts it before every callback that saves or logs, so a
    checkpoint never stores the scheduler one step behind the weights.
    """

    runs_after = {
        StopOnNonFiniteLoss: "no callback of the iteration sees the weights of a failed update",
        WarnOnUnlabelledBatches: "it names the micro-batch's iteration before the count moves on",
    }

    def __init__(self) -> None:
        super().__init__(by_step=True)
        self._micro_batch_terms: list[dict[str, float]] = []

    def on_train_batch_end(self, step: int, logs: dict | None = None) -> None:
        # Collected here, before any iteration callback runs, so a log line at iteration t
        # includes the loss of iteration t itself.
        self._micro_batch_terms.append(self.trainer.loss_terms(logs or {}))
        if (step + 1) % self.trainer.accumulate_steps:
            return
        super().on_train_batch_end(step, logs)
        terms, self._micro_batch_terms = self._micro_batch_terms, []
        self.trainer.advance_iteration({**(logs or {}), LOSS_TERMS: _mean(terms)})


def _mean(terms: list[dict[str, float]]) -> dict[str, float]:
    """Term-wise mean over the micro-batches of one iteration."""
    return {name: sum(t[name] for t in terms) / len(terms) for name in terms[0]} if terms else {}
