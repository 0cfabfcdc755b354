"""Training callbacks for the hapi-based Trainer, one job each.

Order matters in a callback list: evaluation before checkpointing (a new best is saved at the
iteration that scored it). The Trainer itself puts StopOnNonFiniteLoss and ScheduleClock first
and SaveOnInterrupt last.
"""
from pointrend.train.callbacks.base import TrainerCallback
from pointrend.train.callbacks.checkpointing import PeriodicCheckpoint
from pointrend.train.callbacks.ema import ExponentialMovingAverage
from pointrend.train.callbacks.evaluation import PeriodicEvaluation
from pointrend.train.callbacks.interrupt import SaveOnInterrupt, TrainingInterrupted
from pointrend.train.callbacks.nan_guard import NonFiniteLossError, StopOnNonFiniteLoss
from pointrend.train.callbacks.progress import ProgressLogger
from pointrend.train.callbacks.schedule import ScheduleClock
from pointrend.train.callbacks.tensorboard import TensorBoardLogger

__all__ = [
    "TrainerCallback", "PeriodicCheckpoint", "ExponentialMovingAverage", "PeriodicEvaluation",
    "SaveOnInterrupt", "TrainingInterrupted", "NonFiniteLossError", "StopOnNonFiniteLoss",
    "ProgressLogger", "ScheduleClock", "TensorBoardLogger",
]
