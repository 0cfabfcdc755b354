"""Stops training at the first NaN or infinite loss, before anything saves the broken weights."""

from __future__ import annotations

import math

from pointrend.train.callbacks.base import HapiLogs, TrainerCallback
from pointrend.utils.distributed import any_rank
from pointrend.utils.setting_names import NamesSettings

# What usually makes a loss non-finite or run away, named as the Trainer takes those settings.
STABILITY_FIXES = (
    "Usual fixes: a lower optim.lr, a longer schedule.warmup_iters, or "
    "optim.grad_clip_norm=<e.g. 10>."
)
# The settings STABILITY_FIXES names, and `resume`, which the fall-back phrase of
# `Trainer.fall_back_to_finite_checkpoint` names.
STABILITY_FIELDS = ("optim.lr", "schedule.warmup_iters", "optim.grad_clip_norm", "resume")


class NonFiniteLossError(NamesSettings, RuntimeError):
    """The loss became NaN or infinite; the last checkpoint predates it."""


class NonFiniteWeightsError(NonFiniteLossError):
    """The weights (or optimizer state) hold NaN/inf: nothing is saved or evaluated from them."""


class StopOnNonFiniteLoss(TrainerCallback):
    """Runs before the schedule clock (the Trainer puts it first): once it raises, no EMA
    update, evaluation or checkpoint sees the weights of the failed update."""

    def on_train_batch_end(self, step: int, logs: HapiLogs = None) -> None:
        terms = self.trainer.loss_terms(logs or {})
        bad = {name: value for name, value in terms.items() if not math.isfinite(value)}
        if any_rank(bool(bad)):
            where = self.trainer.fall_back_to_finite_checkpoint()
            detail = (
                ", ".join(f"{name}={value}" for name, value in bad.items()) or "on another rank"
            )
            raise NonFiniteLossError(
                f"loss is not finite at iteration {self.trainer.iteration + 1} ({detail}); "
                f"training stopped and {where}. {STABILITY_FIXES}",
                STABILITY_FIELDS,
            )
