"""Advances the iteration schedule: LR step and iteration count once per optimizer update."""
from __future__ import annotations

from paddle.callbacks import LRScheduler

from pointrend.train.callbacks.base import TrainerCallback


class ScheduleClock(LRScheduler, TrainerCallback):
    """hapi's LRScheduler stepped per optimizer update instead of per micro-batch.

    It subclasses LRScheduler so hapi does not append its own (which would step the LR a
    second time), and the Trainer puts it before every callback that saves or logs, so a
    checkpoint never stores the scheduler one step behind the weights.
    """

    def __init__(self) -> None:
        super().__init__(by_step=True)

    def on_train_batch_end(self, step: int, logs: dict | None = None) -> None:
        if (step + 1) % self.trainer.accumulate_steps:
            return
        super().on_train_batch_end(step, logs)
        self.trainer.advance_iteration(logs or {})
