"""Every workaround for paddle.Model (hapi) and Paddle's optimizer API, in one place.

The Trainer runs an iteration schedule on hapi, which was made for epochs. What bends it:
- One hapi epoch: hapi counts evaluation and checkpoint frequencies in epochs and miscounts
  `num_iters`, so the whole schedule runs as ONE hapi epoch over a batch sampler that yields
  exactly the batches still to do (`HapiModel.fit_one_epoch`); the rest is callbacks counting
  optimizer updates.
- The LR clock: hapi steps the LR per micro-batch and appends its own LRScheduler callback
  unless the list holds one (`ScheduleClock`).
- Accumulation: hapi sums the gradients of accumulated micro-batches (`MeanOverAccumulation`).
- Parameter groups: hapi calls `optimizer.minimize`, which fails on groups (`GroupedMomentum`).
- AMP: `Model.prepare` has no dtype option, and the GradScaler lives in the private
  `Model._scaler`, made from the private `_adapter._amp_level / _amp_configs` at the first
  batch (`HapiModel.__init__`, `scaler_state`, `load_scaler_state`).
- Warnings Paddle gives about its own internals, silenced around `fit` and
  `load_optimizer_state`.

Written for Paddle WRITTEN_FOR_PADDLE: tests/test_hapi_adapter.py checks that each hook used
here still exists and behaves, and fails on another Paddle major.minor until they are re-checked.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import paddle
from paddle.callbacks import LRScheduler

from pointrend.train.callbacks.base import LOSS_TERMS, TrainerCallback
from pointrend.train.callbacks.nan_guard import StopOnNonFiniteLoss
from pointrend.train.callbacks.unlabelled import WarnOnUnlabelledBatches
from pointrend.utils.paddle_notices import ignore_batchnorm_notice

WRITTEN_FOR_PADDLE = "3.3"

# hapi re-wraps the loader's label tensors with paddle.to_tensor on every batch.
COPY_CONSTRUCT_NOTICE = "To copy construct from a tensor"
# LinearWarmup's state nests the poly scheduler's, which Paddle's base class reports as "unused
# values" before LinearWarmup restores it.
UNUSED_STATE_NOTICE = "There are some unused values in state_dict"


class MeanOverAccumulation:
    """Divides every loss term by the number of accumulated micro-batches, so their summed
    gradients are a mean and the LR does not depend on how a batch is split."""

    def __init__(self, loss: Callable, steps: int, ignore_index: int | None) -> None:
        self.loss = loss
        self.steps = steps
        self.ignore_index = ignore_index
        self.labelled_pixels: int | None = None

    def __call__(self, *outputs_and_labels: paddle.Tensor) -> list[paddle.Tensor]:
        if self.ignore_index is not None:
            self.labelled_pixels = int((outputs_and_labels[-1] != self.ignore_index).sum())
        terms = self.loss(*outputs_and_labels)
        terms = terms if isinstance(terms, (list, tuple)) else [terms]
        return [term / self.steps for term in terms]

    def terms_in(self, logs: Mapping[str, Any], names: Sequence[str] | None) -> dict[str, float]:
        """The micro-batch's loss terms by name from hapi's logs, the averaging undone."""
        values = logs.get("loss", [])
        values = values if isinstance(values, (list, tuple)) else [values]
        names = names or [f"loss{i}" for i in range(len(values))]
        return {name: float(value) * self.steps for name, value in zip(names, values, strict=False)}


class GroupedMomentum(paddle.optimizer.Momentum):
    """Momentum whose `minimize` works with parameter groups.

    hapi's train_batch calls `backward()` and then `optimizer.minimize(loss)`; in Paddle 3
    dygraph, minimize collects gradients from the raw group dicts and fails, while `step()`
    handles groups. The gradients already exist at that point, so minimize is just a step.
    """

    def minimize(
        self,
        loss: Any,
        startup_program: Any = None,
        parameters: Any = None,
        no_grad_set: Any = None,
    ) -> tuple[list, list]:
        self.step()
        return [], []


class ScheduleClock(LRScheduler, TrainerCallback):
    """hapi's LRScheduler stepped per optimizer update instead of per micro-batch; it turns
    hapi's micro-batch events into the Trainer's iterations (`advance_iteration`).

    It subclasses LRScheduler so hapi does not append its own (which would step the LR a
    second time), and the Trainer puts it before every callback that saves or logs, so a
    checkpoint never stores the scheduler one step behind the weights.
    """

    runs_after = {
        StopOnNonFiniteLoss: "no callback of the iteration sees the weights of a failed update",
        WarnOnUnlabelledBatches: "it names the micro-batch's iteration before the count moves on",
    }

    def __init__(self) -> None:
        super().__init__(by_step=True)
        self._micro_batch_terms: list[dict[str, float]] = []

    def on_train_batch_end(self, step: int, logs: Any = None) -> None:
        # Collected here, before any iteration callback runs, so a log line at iteration t
        # includes the loss of iteration t itself.
        self._micro_batch_terms.append(self.trainer.loss_terms(logs or {}))
        if (step + 1) % self.trainer.accumulate_steps:
            return
        super().on_train_batch_end(step, logs)
        terms, self._micro_batch_terms = self._micro_batch_terms, []
        self.trainer.advance_iteration({**(logs or {}), LOSS_TERMS: _mean(terms)})


def _mean(terms: list[dict[str, float]]) -> dict[str, float]:
    """Term-wise mean over the micro-batches of one iteration."""
    return {name: sum(t[name] for t in terms) / len(terms) for name in terms[0]} if terms else {}


class HapiModel:
    """`network` in a paddle.Model prepared with `optimizer`, the loss averaged over
    `accumulate_steps` micro-batches and hapi's `amp_configs` (None: float32); `amp_dtype`
    "bfloat16" makes its autocast produce bfloat16."""

    def __init__(
        self,
        network: paddle.nn.Layer,
        optimizer: paddle.optimizer.Optimizer,
        loss: Callable,
        *,
        accumulate_steps: int,
        ignore_index: int | None,
        amp_configs: dict | None,
        amp_dtype: str = "float16",
    ) -> None:
        self.accumulate_steps = accumulate_steps
        self.loss = MeanOverAccumulation(loss, accumulate_steps, ignore_index)
        self.model = paddle.Model(network)
        # hapi takes a list of loss terms too, though its type information says one tensor.
        self.model.prepare(optimizer, self.loss, amp_configs=amp_configs)  # type: ignore[arg-type]
        if amp_configs and amp_dtype == "bfloat16":
            # hapi's adapter passes these keyword arguments straight to paddle.amp.auto_cast.
            self._internals._adapter._amp_custom_lists["dtype"] = "bfloat16"

    @property
    def _internals(self) -> Any:
        """The paddle.Model with the private attributes its type information leaves out
        (`_adapter`, `_scaler`)."""
        return self.model

    def fit_one_epoch(self, batches: Any, callbacks: Sequence[paddle.callbacks.Callback]) -> None:
        """Train on every batch of `batches` (the rest of the schedule) as one hapi epoch."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=COPY_CONSTRUCT_NOTICE)
            ignore_batchnorm_notice()
            self.model.fit(
                batches,
                epochs=1,
                verbose=0,
                callbacks=list(callbacks),
                accumulate_grad_batches=self.accumulate_steps,
            )

    def scaler_state(self) -> dict | None:
        """The AMP loss scaler's state, None without one (float32, or before the first batch)."""
        scaler = getattr(self._internals, "_scaler", None)
        return None if scaler is None else scaler.state_dict()

    def load_scaler_state(self, state: dict) -> None:
        """Continue with a saved loss scale (ignored in float32 training). hapi makes its scaler
        at the first batch only when it has none, so the one made here is kept."""
        model = self._internals
        if model._adapter._amp_level == "O0":
            return
        model._scaler = paddle.amp.GradScaler(**model._adapter._amp_configs)
        # GradScaler.state_dict holds numpy values, and load_state_dict expects them back.
        model._scaler.load_state_dict(state)


def load_optimizer_state(optimizer: paddle.optimizer.Optimizer, state: dict) -> None:
    """`optimizer.set_state_dict(state)` without Paddle's notice about the nested LR state."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=UNUSED_STATE_NOTICE)
        optimizer.set_state_dict(state)
