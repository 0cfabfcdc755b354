"""One line every `interval` iterations: losses, LR, iterations/s, images/s and time left."""

from __future__ import annotations

import datetime

from pointrend.train.callbacks.base import HapiLogs, IntervalLogger
from pointrend.utils.distributed import is_main_process


class ProgressLogger(IntervalLogger):
    """Speeds come from the trainer's clock, which excludes evaluation and checkpoint time."""

    def __init__(self, interval: int = 50) -> None:
        super().__init__(interval)

    def on_train_begin(self, logs: HapiLogs = None) -> None:
        super().on_train_begin(logs)
        if is_main_process():
            print(
                f"training iterations {self.trainer.iteration + 1}..{self.trainer.max_iters} "
                f"on {self.trainer.describe_setup()}",
                flush=True,
            )

    def report(self, iteration: int, losses: dict[str, float], rate: float) -> None:
        if not is_main_process():
            return
        eta = datetime.timedelta(seconds=round((self.trainer.max_iters - iteration) / rate))
        total = sum(losses.values())
        terms = " ".join(f"{name} {value:.4f}" for name, value in losses.items())
        print(
            f"iter {iteration}/{self.trainer.max_iters}  loss {total:.4f} ({terms})  "
            f"lr {self.trainer.current_lr():.3e}  {rate:.2f} it/s  "
            f"{rate * self.trainer.global_batch_size:.1f} img/s  eta {eta}",
            flush=True,
        )
