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


def as_flags(message: str, names: Iterable[str]) -> str:
    """`message` with each of `names` (recipe field paths such as `data.root`, or command
    options such as `engine`, as the layers below name them) written as its command-line flag
    (`--data.root`)."""
    names = sorted(set(names), key=len, reverse=True)
    if not names:
        return message
    pattern = r"(?<![\w.\-])(" + "|".join(map(re.escape, names)) + r")(?![\w])"
    return re.sub(pattern, r"--\1", message)


def describe(error: BaseException) -> str:
    """The one line the command line prints for a user error."""
    if isinstance(error, TrainingInterrupted):
        return str(error)
    if isinstance(error, RecipeError):
        return f"error: {as_flags(str(error), error.fields)}"
    if isinstance(error, TrainingSettingError):
        # validate() names the flags; this is the trainer's own check of what reached it.
        return f"error: training setting: {error} (`show` prints the recipe's values)"
    return f"error: {error}"


def exit_code(error: BaseException) -> int:
    return INTERRUPTED_EXIT_CODE if isinstance(error, TrainingInterrupted) else 1
