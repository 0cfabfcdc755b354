"""Training callbacks for the hapi-based Trainer, one job each.

Order matters in a callback list. Each class states its rules in `runs_before` / `runs_after`
and the Trainer refuses a list that breaks one (`base.check_order`). The Trainer itself puts
StopOnNonFiniteLoss, WarnOnUnlabelledBatches and `pointrend.train.hapi.ScheduleClock` first and
SaveOnInterrupt last.
"""

from pointrend.train.callbacks.base import TrainerCallback
from pointrend.train.callbacks.best_checkpoint import BestCheckpoint
from pointrend.train.callbacks.checkpointing import PeriodicCheckpoint
from pointrend.train.callbacks.divergence import LossDivergedError, StopOnDivergence
from pointrend.train.callbacks.ema import ExponentialMovingAverage
from pointrend.train.callbacks.evaluation import PeriodicEvaluation
from pointrend.train.callbacks.interrupt import SaveOnInterrupt, TrainingInterrupted
from pointrend.train.callbacks.nan_guard import NonFiniteLossError, StopOnNonFiniteLoss
from pointrend.train.callbacks.progress import ProgressLogger
from pointrend.train.callbacks.tensorboard import TensorBoardLogger

__all__ = [
    "TrainerCallback",
    "BestCheckpoint",
    "PeriodicCheckpoint",
    "ExponentialMovingAverage",
    "PeriodicEvaluation",
    "SaveOnInterrupt",
    "TrainingInterrupted",
    "NonFiniteLossError",
    "StopOnNonFiniteLoss",
    "ProgressLogger",
    "TensorBoardLogger",
    "LossDivergedError",
    "StopOnDivergence",
]
