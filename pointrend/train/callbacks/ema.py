"""Exponential moving average of the weights, used for evaluation and saved with checkpoints."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import paddle

from pointrend.train.callbacks.base import HapiLogs, TrainerCallback
from pointrend.train.callbacks.best_checkpoint import BestCheckpoint
from pointrend.train.callbacks.checkpointing import PeriodicCheckpoint
from pointrend.train.callbacks.evaluation import PeriodicEvaluation
from pointrend.train.callbacks.interrupt import SaveOnInterrupt
from pointrend.train.checkpoint import EMA_FILE
from pointrend.train.settings import TrainingSettingError


class ExponentialMovingAverage(TrainerCallback):
    """shadow <- d * shadow + (1 - d) * weights after every iteration, over the whole state dict
    (BN running statistics included, so the averaged weights come with matching statistics).

    The decay warms up as d_t = decay * (1 - exp(-t / warmup_iters)): early on the shadow
    follows the fast-changing weights instead of remembering the random initialisation.
    """

    state_file = EMA_FILE
    runs_before = {
        PeriodicCheckpoint: "a checkpoint holds the average of its own iteration",
        SaveOnInterrupt: "a checkpoint holds the average of its own iteration",
        BestCheckpoint: "a checkpoint holds the average of its own iteration",
        PeriodicEvaluation: "evaluation sees the average of its own iteration",
    }

    def __init__(self, decay: float = 0.9999, warmup_iters: int = 2000) -> None:
        if not 0.0 < decay < 1.0:
            raise TrainingSettingError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.warmup_iters = warmup_iters
        self.shadow: dict[str, paddle.Tensor] | None = None

    def decay_at(self, iteration: int) -> float:
        if self.warmup_iters <= 0:
            return self.decay
        return self.decay * (1.0 - math.exp(-iteration / self.warmup_iters))

    def _live_state(self) -> dict[str, paddle.Tensor]:
        return {
            k: v
            for k, v in self.trainer.network.state_dict().items()
            if paddle.is_floating_point(v)
        }

    def on_train_begin(self, logs: HapiLogs = None) -> None:
        if self.shadow is None:
            # float32 even when AMP O2 keeps the live weights in float16: tiny (1 - d) steps
            # would vanish in float16 rounding.
            self.shadow = {
                k: paddle.cast(v.detach(), "float32") for k, v in self._live_state().items()
            }

    @paddle.no_grad()
    def on_iteration_end(self, iteration: int, logs: dict) -> None:
        assert self.shadow is not None, "on_train_begin starts the average"
        d = self.decay_at(iteration)
        for name, value in self._live_state().items():
            average = self.shadow[name]
            paddle.assign(average * d + value.astype("float32") * (1.0 - d), output=average)

    def state_dict(self) -> dict[str, paddle.Tensor]:
        return dict(self.shadow or {})

    def set_state_dict(self, state: dict[str, paddle.Tensor]) -> None:
        live = self._live_state()
        if set(state) != set(live):
            raise ValueError("the EMA state in the checkpoint does not match the model's weights")
        self.shadow = {k: paddle.cast(v, "float32") for k, v in state.items()}

    def fresh_state_note(self) -> str:
        return "the average restarts from the loaded weights"

    @contextmanager
    def evaluation_weights(self) -> Iterator[None]:
        """The network holds the averaged weights inside the block, its own weights after."""
        if self.shadow is None:
            yield
            return
        network = self.trainer.network
        live = self._live_state()
        raw = {k: v.detach().clone() for k, v in live.items()}
        network.set_state_dict(
            {k: average.astype(live[k].dtype) for k, average in self.shadow.items()}
        )
        try:
            yield
        finally:
            network.set_state_dict(raw)
