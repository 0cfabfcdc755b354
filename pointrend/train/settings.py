"""What the Trainer reads from its settings, as structural types: any object with these fields
will do (the application passes the recipe's sections), so training never depends on the
recipe layer. Settings it cannot work with raise TrainingSettingError, named in its own terms."""

from __future__ import annotations

from typing import Protocol


class TrainingSettingError(ValueError):
    """A training setting the Trainer cannot work with."""


class OptimSettings(Protocol):
    lr: float
    momentum: float
    weight_decay: float
    decay_norm_and_bias: bool
    grad_clip_norm: float | None
    accumulate_steps: int


class ScheduleSettings(Protocol):
    iters: int
    warmup_iters: int
    warmup_start_factor: float
    power: float
    min_lr: float


class AmpSettings(Protocol):
    enabled: bool
    level: str
    dtype: str
