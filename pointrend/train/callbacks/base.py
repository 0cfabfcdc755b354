"""What every training callback shares: a link to the Trainer, two extra events, its own
checkpoint state, an evaluation-weights hook and the order rules it declares.

hapi calls `on_train_batch_end` after every micro-batch; with gradient accumulation several
micro-batches make one iteration (one optimizer update). The Trainer turns updates into
`on_iteration_end(iteration, logs)` and finished evaluations into
`on_eval_results(iteration, results)`, so callbacks count in iterations of the schedule.
The logs of `on_iteration_end` carry the iteration's loss terms (mean over its micro-batches)
under LOSS_TERMS.

Callbacks run in list order. A callback class states what it must run before or after in
`runs_before` / `runs_after` (the other class and why); the Trainer refuses a list that breaks
one of these rules when it is built (`check_order`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from paddle.callbacks import Callback

if TYPE_CHECKING:
    from pointrend.train.trainer import Trainer

LOSS_TERMS = "loss_terms"
# What hapi passes to its callback events (a dict: "loss", "batch_size", ...), or None.
HapiLogs = Mapping[str, Any] | None


class TrainerCallback(Callback):
    trainer: Trainer

    # The checkpoint file that holds this callback's state when that state is tensors (written
    # with paddle.save beside the weights, checked for NaN/inf like them); None keeps the state
    # as plain data (numbers, lists) in the trainer state, under the class name.
    state_file: ClassVar[str | None] = None
    # Order rules: {other callback class: why this one must run before / after it}.
    runs_before: ClassVar[Mapping[type[TrainerCallback], str]] = {}
    runs_after: ClassVar[Mapping[type[TrainerCallback], str]] = {}

    def attach(self, trainer: Trainer) -> None:
        self.trainer = trainer

    def on_iteration_end(self, iteration: int, logs: dict[str, Any]) -> None:
        """After optimizer update number `iteration` (1-based) and the LR step."""

    def on_eval_results(self, iteration: int, results: dict[str, Any]) -> None:
        """After a periodic evaluation, with the evaluate_dataset results."""

    def state_dict(self) -> dict[str, Any]:
        """What this callback needs after a resume, saved with every checkpoint (an empty dict
        saves nothing): plain data, or tensors when `state_file` names their file."""
        return {}

    def set_state_dict(self, state: dict[str, Any]) -> None:
        """Takes back what `state_dict` returned."""

    def fresh_state_note(self) -> str:
        """What resuming from a checkpoint without this callback's `state_file` means."""
        return f"{type(self).__name__} starts afresh"

    @contextmanager
    def evaluation_weights(self) -> Iterator[None]:
        """Inside the block the network holds the weights evaluation should see (e.g. an
        average); the default leaves the training weights in place."""
        yield

    def is_due(self, iteration: int, interval: int) -> bool:
        """Every `interval` iterations and at the end of the schedule (interval 0 = only at the
        end)."""
        return iteration == self.trainer.max_iters or (interval > 0 and iteration % interval == 0)


def _broken_rule(earlier: TrainerCallback, later: TrainerCallback) -> tuple[str, str, str] | None:
    """(callback that must run first, the other, why) when `earlier` may not precede `later`."""
    for cls, why in earlier.runs_after.items():
        if isinstance(later, cls):
            return type(later).__name__, type(earlier).__name__, why
    for cls, why in later.runs_before.items():
        if isinstance(earlier, cls):
            return type(later).__name__, type(earlier).__name__, why
    return None


def check_order(callbacks: Sequence[TrainerCallback]) -> None:
    """ValueError naming two callbacks and their rule when the list runs them the wrong way
    round."""
    for position, earlier in enumerate(callbacks):
        for later in callbacks[position + 1 :]:
            broken = _broken_rule(earlier, later)
            if broken:
                first, second, why = broken
                raise ValueError(
                    f"callback order: {first} must run before {second} ({why}), "
                    "but the list puts it after; reorder the callbacks"
                )


class LogWindow:
    """What a log line covers: loss terms averaged since the last report, and the iterations per
    second over that span (from the trainer's clock)."""

    def __init__(self) -> None:
        self._sums: dict[str, float] = {}
        self._count = 0
        self._mark: tuple[int, float] = (0, 0.0)

    def start(self, iteration: int, now: float) -> None:
        self._mark = (iteration, now)

    def add(self, values: dict[str, float]) -> None:
        for name, value in values.items():
            self._sums[name] = self._sums.get(name, 0.0) + value
        self._count += 1

    def pop(self, iteration: int, now: float) -> tuple[dict[str, float], float]:
        """(mean of each loss term, iterations per second) since the last pop, and start anew."""
        means = (
            {name: total / self._count for name, total in self._sums.items()} if self._count else {}
        )
        start_iteration, start_time = self._mark
        rate = (iteration - start_iteration) / max(now - start_time, 1e-9)
        self._sums, self._count, self._mark = {}, 0, (iteration, now)
        return means, rate


class IntervalLogger(TrainerCallback):
    """Reports every `interval` iterations on what happened since the last report: the mean of
    each loss term and the iterations per second (from the trainer's clock, which excludes
    evaluation and checkpoint time). Subclasses write the report."""

    def __init__(self, interval: int) -> None:
        self.interval = interval
        self._window = LogWindow()

    def on_train_begin(self, logs: HapiLogs = None) -> None:
        self._window.start(self.trainer.iteration, self.trainer.clock.elapsed())

    def on_iteration_end(self, iteration: int, logs: dict[str, Any]) -> None:
        self._window.add(logs.get(LOSS_TERMS, {}))
        if self.is_due(iteration, self.interval):
            losses, rate = self._window.pop(iteration, self.trainer.clock.elapsed())
            self.report(iteration, losses, rate)

    def report(self, iteration: int, losses: dict[str, float], rate: float) -> None:
        raise NotImplementedError
