"""Errors caused by the user's data, recipe or checkpoints: the command line reports these
in one line (no traceback) and exits with a non-zero status."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pointrend.app.runtime import DeviceUnavailableError
from pointrend.config.recipe import RecipeError
from pointrend.data.sample_errors import BadSampleError
from pointrend.inference.predict_files import OutputNameClash
from pointrend.models.pretrained import PretrainedWeightsError
from pointrend.train.callbacks.interrupt import TrainingInterrupted
from pointrend.train.callbacks.nan_guard import NonFiniteLossError
from pointrend.train.checkpoint import CheckpointError
from pointrend.train.run_lock import RunLockedError
from pointrend.train.settings import TrainingSettingError
from pointrend.utils.downloads import DownloadError
from pointrend.utils.output_files import OutputWriteError
from pointrend.utils.safe_pickle import CheckpointFormatError, UnsafePickleError
from pointrend.utils.setting_names import NamesSettings


class DatasetError(RuntimeError):
    """The dataset named by the recipe is missing or malformed."""


class CommandOptionError(ValueError):
    """A command's own option (not a recipe field, e.g. --engine) has a value it cannot use."""


USER_ERRORS = (
    RecipeError,
    CommandOptionError,
    CheckpointError,
    NonFiniteLossError,
    DatasetError,
    DeviceUnavailableError,
    TrainingInterrupted,
    OutputWriteError,
    UnsafePickleError,
    CheckpointFormatError,
    DownloadError,
    OutputNameClash,
    RunLockedError,
    PretrainedWeightsError,
    BadSampleError,
    TrainingSettingError,
)

INTERRUPTED_EXIT_CODE = 130


# What the command line calls the settings the layers below name otherwise (a Trainer parameter,
# a StopOnDivergence argument); every other name they use is already the recipe field's path
# (`optim.lr`: the Trainer takes the recipe's sections) or the command's option (`resume`).
FLAG_NAMES = {
    "on_bad_sample": "data.on_bad_sample",
    "baseline_iters": "callbacks.divergence.baseline_iters",
    "window": "callbacks.divergence.window",
    "factor": "callbacks.divergence.factor",
}


def as_flags(message: str, names: Iterable[str]) -> str:
    """`message` with each of `names` (recipe field paths such as `data.root`, command options
    such as `engine`, or settings as the layers below name them, see FLAG_NAMES) written as its
    command-line flag (`--data.root`). A quoted word given to one (`on_bad_sample="skip"`) loses
    its quotes, as typed on a command line (`--data.on_bad_sample=skip`)."""
    names = sorted(set(names), key=len, reverse=True)
    if not names:
        return message
    # Not part of a longer name or of a path.
    pattern = r"(?<![\w.\-/])(" + "|".join(map(re.escape, names)) + r')(?![\w/])(?:="([\w.\-]*)")?'

    def flag(match: re.Match[str]) -> str:
        name, quoted = match[1], match[2]
        written = f"--{FLAG_NAMES.get(name, name)}"
        return written if quoted is None else f"{written}={quoted}"

    return re.sub(pattern, flag, message)


def describe(error: BaseException) -> str:
    """The one line the command line prints for a user error."""
    if isinstance(error, TrainingInterrupted):
        return (
            f"interrupted at iteration {error.iteration}; checkpoint saved to {error.checkpoint}. "
            "Continue with the same command plus --resume"
        )
    if isinstance(error, (RecipeError, NamesSettings)):
        return f"error: {as_flags(str(error), error.fields)}"
    if isinstance(error, TrainingSettingError):
        # validate() names the flags; this is the trainer's own check of what reached it.
        return f"error: training setting: {error} (`show` prints the recipe's values)"
    return f"error: {error}"


def exit_code(error: BaseException) -> int:
    return INTERRUPTED_EXIT_CODE if isinstance(error, TrainingInterrupted) else 1
