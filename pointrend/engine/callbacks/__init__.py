"""Training callbacks for the hapi-based Trainer, one job each.

Order matters in a callback list: evaluation before checkpointing (a new best is saved at the
iteration that scored it). The Trainer itself puts StopOnNonFiniteLoss and ScheduleClock first
and SaveOnInterrupt last.
"""
from pointrend.engine.callbacks.base import TrainerCallback
from pointrend.engine.callbacks.checkpointing import PeriodicCheckpoint
from pointrend.engine.callbacks.ema import ExponentialMovingAverage
from pointrend.engine.callbacks.evaluation import PeriodicEvaluation
from pointrend.engine.callbacks.interrupt import SaveOnInterrupt, TrainingInterrupted
from pointrend.engine.callbacks.nan_guard import NonFiniteLossError, StopOnNonFiniteLoss
from pointrend.engine.callbacks.progress import ProgressLogger
from pointrend.engine.callbacks.schedule import ScheduleClock
from pointrend.engine.callbacks.tensorboard import TensorBoardLogger

__all__ = [
    "TrainerCallback", "PeriodicCheckpoint", "ExponentialMovingAverage", "PeriodicEvaluation",
    "SaveOnInterrupt", "TrainingInterrupted", "NonFiniteLossError", "StopOnNonFiniteLoss",
    "ProgressLogger", "ScheduleClock", "TensorBoardLogger",
]
