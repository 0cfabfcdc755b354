"""Iteration-schedule training on paddle.Model (hapi).

The whole schedule runs as one hapi epoch over a batch sampler that yields exactly the batches
still to do (how hapi is bent to iterations: `pointrend.train.hapi`); evaluation, checkpoints
and logging are callbacks counting optimizer updates. hapi still does what it is good at:
train_batch, AMP, gradient accumulation and DataParallel.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import paddle
from paddle import nn

from pointrend.data.sample_errors import BadSampleError, SampleErrorCheck, error_safe_loader
from pointrend.train.amp import amp_configs
from pointrend.train.bad_batches import ReadableReplacement
from pointrend.train.bad_samples import as_entries, report_skipped
from pointrend.train.callbacks import (
    SaveOnInterrupt,
    StopOnNonFiniteLoss,
    TrainerCallback,
)
from pointrend.train.callbacks.base import check_order
from pointrend.train.callbacks.nan_guard import (
    STABILITY_FIELDS,
    STABILITY_FIXES,
    NonFiniteWeightsError,
)
from pointrend.train.callbacks.unlabelled import WarnOnUnlabelledBatches
from pointrend.train.checkpoint import (
    MODEL_FILE,
    OPTIMIZER_FILE,
    SCALER_FILE,
    CheckpointError,
    CheckpointStore,
    checkpoint_iteration,
    complete_checkpoints,
    load_weights,
    read_info,
    read_state_dict,
    read_trainer_state,
    resolve_checkpoint,
)
from pointrend.train.converted_checkpoint import NotResumableError, converted_from
from pointrend.train.finite import describe_non_finite, non_finite_tensors, refuse_non_finite
from pointrend.train.hapi import HapiModel, ScheduleClock, load_optimizer_state
from pointrend.train.optim import build_sgd, poly_with_warmup
from pointrend.train.rng import RngStateError, capture_rng_state, restore_rng_state, seed_everything
from pointrend.train.sampler import IterationBatchSampler, SeededSamples
from pointrend.train.settings import (
    AmpSettings,
    OptimSettings,
    ScheduleSettings,
    TrainingSettingError,
)
from pointrend.utils.distributed import gather_objects, is_main_process, rank, world_size
from pointrend.utils.loader_workers import ignore_interrupts
from pointrend.utils.nested import leaf_differences


class TrainingClock:
    """Wall time spent training: blocks run under `paused()` (evaluation, saving) do not count."""

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self._excluded = 0.0
        self._depth = 0

    def elapsed(self) -> float:
        return time.perf_counter() - self._start - self._excluded

    @contextmanager
    def paused(self) -> Iterator[None]:
        self._depth += 1
        began = time.perf_counter()
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._excluded += time.perf_counter() - began


class Trainer:
    """Trains `network` with SGD + poly LR for `schedule.iters` optimizer updates.

    `batch_size` is the global batch of one update; each of the world-size processes takes
    batch_size / (world_size * optim.accumulate_steps) images per micro-batch. The network
    must already be on the right device (built after `setup_runtime`), under
    `paddle.utils.unique_name.guard()` so optimizer state names match across processes, and
    converted to SyncBatchNorm if wanted: DataParallel wraps it here.
    """

    def __init__(
        self,
        network: nn.Layer,
        loss: Callable,
        train_dataset: paddle.io.Dataset,
        *,
        optim: OptimSettings,
        schedule: ScheduleSettings,
        batch_size: int,
        output_dir: str | Path,
        callbacks: Sequence[TrainerCallback] = (),
        loss_names: Sequence[str] | None = None,
        num_workers: int = 0,
        seed: int = 0,
        amp: AmpSettings | None = None,
        device: str = "cpu",
        keep_last: int = 3,
        recipe: dict | None = None,
        ignore_index: int | None = None,
        on_bad_sample: str = "error",
    ) -> None:
        self.network = network
        self.on_bad_sample = on_bad_sample
        self.batches: SampleErrorCheck | None = None
        self._reported_skips = 0
        self.train_dataset = train_dataset
        self.callbacks = list(callbacks)
        self.loss_names = list(loss_names) if loss_names else None
        self.num_workers = num_workers
        self.seed = seed
        self.device = device
        self.recipe = recipe or {}
        self.output_dir = Path(output_dir)
        self.checkpoints = CheckpointStore(self.output_dir / "checkpoints", keep_last=keep_last)
        self.max_iters = schedule.iters
        self.accumulate_steps = optim.accumulate_steps
        self.global_batch_size = batch_size
        self.per_device_batch_size = self._per_device_batch(batch_size, optim.accumulate_steps)
        self.iteration = 0
        self.last_eval: tuple[int, dict] | None = None
        self.saved_iteration: int | None = None
        self.clock = TrainingClock()
        self._first_callbacks: list[TrainerCallback] = [
            StopOnNonFiniteLoss(),
            WarnOnUnlabelledBatches(),
            ScheduleClock(),
        ]
        self._interrupt = SaveOnInterrupt()
        self._active = self._attach_callbacks()
        self._sampler: IterationBatchSampler | None = None

        self.lr_scheduler = poly_with_warmup(
            optim.lr,
            schedule.iters,
            schedule.warmup_iters,
            schedule.power,
            schedule.min_lr,
            schedule.warmup_start_factor,
        )
        self.optimizer = build_sgd(
            network,
            self.lr_scheduler,
            optim.momentum,
            optim.weight_decay,
            optim.decay_norm_and_bias,
            optim.grad_clip_norm,
        )
        on_gpu = device.startswith("gpu")
        self.ignore_index = ignore_index
        self.hapi = HapiModel(
            network,
            self.optimizer,
            loss,
            accumulate_steps=optim.accumulate_steps,
            ignore_index=ignore_index,
            amp_configs=amp_configs(amp.enabled, amp.level, amp.dtype, on_gpu) if amp else None,
            amp_dtype=amp.dtype if amp else "float16",
        )

    @staticmethod
    def _per_device_batch(batch_size: int, accumulate_steps: int) -> int:
        parts = world_size() * accumulate_steps
        if batch_size % parts:
            raise TrainingSettingError(
                f"batch_size={batch_size} is not divisible by {world_size()} processes x "
                f"{accumulate_steps} accumulation steps; pick a multiple of {parts}"
            )
        return batch_size // parts

    def _attach_callbacks(self) -> list[TrainerCallback]:
        """Every callback in running order (the Trainer's own first, SaveOnInterrupt last), its
        order rules checked and each linked to this Trainer."""
        everything = [*self._first_callbacks, *self.callbacks, self._interrupt]
        check_order(everything)
        for callback in everything:
            callback.attach(self)
        return everything

    def describe_setup(self) -> str:
        return (
            f"{self.device}, {world_size()} process(es), batch {self.global_batch_size} = "
            f"{self.per_device_batch_size}/device x {world_size()} x {self.accumulate_steps} "
            "accumulation"
        )

    # Events for callbacks -------------------------------------------------------------------

    def advance_iteration(self, logs: dict[str, Any]) -> None:
        """Called by ScheduleClock after each optimizer update."""
        self.iteration += 1
        self._report_new_skips()
        for callback in self._active:
            callback.on_iteration_end(self.iteration, logs)

    def publish_eval_results(self, iteration: int, results: dict) -> None:
        self.last_eval = (iteration, results)
        for callback in self._active:
            callback.on_eval_results(iteration, results)

    def loss_terms(self, logs: Mapping[str, Any]) -> dict[str, float]:
        """The micro-batch's loss terms by name, undoing the accumulation averaging."""
        return self.hapi.loss.terms_in(logs, self.loss_names)

    def labelled_pixels(self) -> int | None:
        """Labelled pixels in the last micro-batch (None without an ignore_index to count by)."""
        return self.hapi.loss.labelled_pixels

    def batch_files(self, step: int) -> list[str]:
        """Image files of micro-batch `step` of the running fit() (hapi's step count)."""
        paths = getattr(self.train_dataset, "image_paths", None)
        if self._sampler is None or paths is None:
            return []
        return [
            str(paths[index]) for index, _ in self._sampler.batch(self._sampler.start_batch + step)
        ]

    def current_lr(self) -> float:
        return float(self.optimizer.get_lr())

    @contextmanager
    def evaluation_weights(self) -> Iterator[None]:
        """The weights evaluation should see, as every callback's `evaluation_weights` hook sets
        them (the EMA when it is on); the training weights when no callback has a say."""
        with ExitStack() as hooks:
            for callback in self._active:
                hooks.enter_context(callback.evaluation_weights())
            yield

    # Running --------------------------------------------------------------------------------

    def fit(self, resume: str | Path | None = None) -> None:
        """Run the remaining iterations; `resume` is a checkpoint (or output directory) to continue.

        Raises TrainingInterrupted after Ctrl-C/SIGTERM (a checkpoint was saved),
        NonFiniteLossError on a NaN/inf loss (nothing was saved after it) and, with
        on_bad_sample="error", BadSampleError naming the first sample that cannot be read.
        """
        # Callbacks added to `self.callbacks` since construction join here.
        everything = self._active = self._attach_callbacks()
        if resume is not None:
            self.restore(resume)
        else:
            # Every rank built the same initial weights from `seed`; from here on each rank
            # draws its own training points.
            seed_everything(self.seed + rank())
        if self.iteration >= self.max_iters:
            if is_main_process():
                print(f"nothing to do: the schedule of {self.max_iters} iterations is complete")
            return
        self._sampler = self._batch_sampler()
        # Samples are read through the error-safe loader: an exception inside paddle's DataLoader
        # hangs it (0 workers) or kills it with tracebacks (workers).
        self.batches = error_safe_loader(
            SeededSamples(self.train_dataset),
            self.on_bad_sample,
            batch_sampler=self._sampler,
            num_workers=self.num_workers,
            worker_init_fn=ignore_interrupts,
        )
        self.batches.replace_all_bad = ReadableReplacement(self.train_dataset, self.batches.skipped)
        self.clock = TrainingClock()
        try:
            self.hapi.fit_one_epoch(self.batches, everything)
        except BadSampleError as error:
            if error.context:
                raise
            raise BadSampleError(
                error.error,
                f"met while training iteration {self.iteration + 1}; fix or remove "
                'the file, or set on_bad_sample="skip" to leave bad samples out',
                ("on_bad_sample",),
            ) from None
        finally:
            self._interrupt.restore_handlers()
            self.batches.close()
            self._record_skips()

    def _report_new_skips(self) -> None:
        """Name each sample the moment it is left out (skip mode), not only at the end."""
        skipped = self.batches.skipped if self.batches is not None else []
        for error in skipped[self._reported_skips :]:
            print(f"left out a bad sample: {error.message()}", flush=True)
        self._reported_skips = len(skipped)

    def _record_skips(self) -> None:
        """List the samples training left out, and add them to output_dir/bad_samples.json."""
        skipped = self.batches.skipped if self.batches is not None else []
        if not skipped:
            return
        self._report_new_skips()
        stage = "training" if world_size() == 1 else f"training, rank {rank()}"
        report_skipped(as_entries(skipped), stage, self.output_dir, rank())

    def _batch_sampler(self) -> IterationBatchSampler:
        return IterationBatchSampler(
            dataset_size=len(self.train_dataset),
            batch_size=self.per_device_batch_size,
            num_batches=self.max_iters * self.accumulate_steps,
            start_batch=self.iteration * self.accumulate_steps,
            seed=self.seed,
            rank=rank(),
            world_size=world_size(),
        )

    # Checkpoints ----------------------------------------------------------------------------

    def save_checkpoint(self, best_metric: tuple[str, float] | None = None) -> Path | None:
        """Save the full training state at the current iteration (collective: call on every
        rank; rank 0 writes). Returns the checkpoint directory on rank 0, None elsewhere."""
        self.ensure_finite_weights()
        if self.saved_iteration == self.iteration and best_metric is None:
            # Nothing changed since (e.g. an interrupt right after a periodic save); rewriting
            # the directory would only add a moment where "latest" is being replaced.
            return self.checkpoints.path_of(self.iteration) if is_main_process() else None
        rng_states = gather_objects(capture_rng_state())
        self.saved_iteration = self.iteration
        if not is_main_process():
            return None
        with self.clock.paused():
            state_dicts = self._training_state()
            scaler_state = self.hapi.scaler_state()
            if scaler_state is not None:
                state_dicts[SCALER_FILE] = scaler_state
            metrics = (
                self.last_eval[1]
                if self.last_eval and self.last_eval[0] == self.iteration
                else None
            )
            path = self.checkpoints.save(
                self.iteration,
                state_dicts,
                {
                    "iteration": self.iteration,
                    "rng": rng_states,
                    "callbacks": self._callback_states(),
                },
                {"recipe": self.recipe, "metrics": metrics},
                best_metric=best_metric,
            )
        print(f"checkpoint saved: {path}" + (" (new best)" if best_metric else ""), flush=True)
        return path

    def _tensor_callbacks(self) -> list[TrainerCallback]:
        return [callback for callback in self._active if callback.state_file]

    def _training_state(self) -> dict[str, dict]:
        """Every tensor state of the run by checkpoint file: weights, optimizer, and the
        callbacks' own (e.g. the EMA's average)."""
        state = {MODEL_FILE: self.network.state_dict(), OPTIMIZER_FILE: self.optimizer.state_dict()}
        for callback in self._tensor_callbacks():
            callback_state = callback.state_dict()
            if callback_state:
                state[str(callback.state_file)] = callback_state
        return state

    def _callback_states(self) -> dict[str, dict]:
        """The plain-data states of the callbacks (e.g. the divergence watch's early loss level)
        by class name, for the trainer state."""
        states = {
            type(callback).__name__: callback.state_dict()
            for callback in self._active
            if not callback.state_file
        }
        return {name: state for name, state in states.items() if state}

    def ensure_finite_weights(self) -> None:
        """Raise NonFiniteWeightsError (after pointing "latest" at the newest finite checkpoint)
        when the weights, optimizer state or a callback's tensors (the EMA) hold NaN/inf. Every
        rank holds the same weights, so every rank decides alike."""
        for file_name, state in self._training_state().items():
            bad, count = non_finite_tensors(state)
            if bad:
                where = self.fall_back_to_finite_checkpoint()
                raise NonFiniteWeightsError(
                    f"the update of iteration {self.iteration} made the training state non-finite "
                    f"({file_name}: {describe_non_finite(bad, count)}); nothing was saved from it "
                    f"and {where}. {STABILITY_FIXES}",
                    STABILITY_FIELDS,
                )

    def fall_back_to_finite_checkpoint(self, before: int | None = None) -> str:
        """Point "latest" at the newest checkpoint (older than iteration `before`) whose weights
        are finite, so a resume starts from sound weights; a phrase naming it for messages (a
        NonFiniteLossError lists its `resume` in STABILITY_FIELDS)."""
        if not is_main_process():
            return "rank 0 names the checkpoint to continue from"
        checkpoint = self.finite_checkpoint_before(before)
        if checkpoint is None:
            return (
                "no sound checkpoint was written yet"
                if before is None
                else (f"no sound checkpoint from before iteration {before} is kept")
            )
        if self.checkpoints.latest() == checkpoint:
            return f"the newest sound checkpoint is {checkpoint} (latest)"
        self.checkpoints.point_latest_at(checkpoint)
        return (
            f"the newest sound checkpoint is {checkpoint}: latest.json points back at it, "
            "so a resume continues from there"
        )

    def finite_checkpoint_before(self, before: int | None = None) -> Path | None:
        """The newest complete checkpoint (older than iteration `before`) whose weights and
        callback tensors (the EMA) are finite."""
        weight_files = [MODEL_FILE, *(str(c.state_file) for c in self._tensor_callbacks())]
        for checkpoint in reversed(complete_checkpoints(self.checkpoints.directory)):
            if before is not None and checkpoint_iteration(checkpoint) >= before:
                continue
            try:
                states = [
                    read_state_dict(checkpoint, name, as_tensors=False) for name in weight_files
                ]
            except CheckpointError:
                continue  # damaged: not one to resume from
            if not any(non_finite_tensors(state)[0] for state in states if state is not None):
                return checkpoint
        return None

    def restore(self, path: str | Path) -> Path:
        """Load weights, optimizer + LR scheduler, AMP scaler, callback, iteration and RNG
        states."""
        checkpoint = resolve_checkpoint(path)
        record = converted_from(read_info(checkpoint))
        if record is not None:
            raise NotResumableError(
                f"{checkpoint} holds weights converted from {record.get('source')}'s "
                f"{record.get('file')}, without a training state to resume: it is for "
                "evaluation, prediction and export only"
            )
        self._report_recipe_changes(checkpoint)
        weights = read_state_dict(checkpoint, MODEL_FILE, required=True)
        refuse_non_finite(weights, checkpoint, "resuming from it")
        load_weights(self.network, checkpoint, weights, self.recipe)
        optimizer_state = read_state_dict(checkpoint, OPTIMIZER_FILE, required=True)
        self._check_optimizer_state(optimizer_state, checkpoint)
        load_optimizer_state(self.optimizer, optimizer_state)
        scaler_state = read_state_dict(checkpoint, SCALER_FILE, as_tensors=False)
        if scaler_state is not None:
            self.hapi.load_scaler_state(scaler_state)
        state = read_trainer_state(checkpoint)
        self.iteration = int(state["iteration"])
        if self.iteration > self.max_iters:
            raise CheckpointError(
                f"{checkpoint} is at iteration {self.iteration}, "
                f"beyond schedule.iters={self.max_iters}"
            )
        try:
            if not isinstance(state.get("rng"), list):
                raise RngStateError("it holds no random generator states")
            self._restore_rng(state["rng"])
        except RngStateError as error:
            raise CheckpointError(
                f"the trainer state of {checkpoint} is damaged: {error}"
            ) from None
        self._restore_callbacks(checkpoint, state.get("callbacks", {}))
        if is_main_process():
            print(f"resumed from {checkpoint} at iteration {self.iteration}", flush=True)
        return checkpoint

    def _report_recipe_changes(self, checkpoint: Path) -> None:
        saved = read_info(checkpoint).get("recipe")
        if not saved or not self.recipe or not is_main_process():
            return
        changes = leaf_differences(saved, self.recipe)
        if changes:
            print(
                f"note: the recipe differs from the one {checkpoint.name} was trained with: "
                + ", ".join(changes),
                flush=True,
            )

    def _check_optimizer_state(self, state: dict, checkpoint: Path) -> None:
        """Paddle matches optimizer state to parameters by generated name and silently skips
        what does not match, which would restart momentum from zero without a word."""
        names = {p.name for p in self.network.parameters() if not p.stop_gradient}
        foreign = [
            key
            for key in state
            if key not in ("LR_Scheduler", "master_weights") and key.rsplit("_", 2)[0] not in names
        ]
        if foreign:
            raise CheckpointError(
                f"the optimizer state in {checkpoint} belongs to differently named parameters "
                f"(e.g. {foreign[0]}): the model must be built inside "
                "paddle.utils.unique_name.guard(), as pointrend.app.build does"
            )

    def _restore_callbacks(self, checkpoint: Path, plain_states: dict) -> None:
        """Hand every callback its saved state: tensors from its own file, plain data from the
        trainer state. A callback without a saved state keeps its fresh one."""
        for callback in self._active:
            if callback.state_file:
                state = read_state_dict(checkpoint, callback.state_file)
                if state is None:
                    if is_main_process():
                        print(
                            f"{checkpoint} has no {callback.state_file}: "
                            f"{callback.fresh_state_note()}"
                        )
                    continue
            else:
                state = plain_states.get(type(callback).__name__)
                if state is None:
                    continue
            callback.set_state_dict(state)

    def _restore_rng(self, states: list) -> None:
        if len(states) == world_size():
            restore_rng_state(states[rank()])
            return
        if is_main_process():
            print(
                f"the checkpoint was written by {len(states)} process(es), this run has "
                f"{world_size()}: random generators are re-seeded, so point sampling differs from "
                "an uninterrupted run"
            )
        seed_everything(self.seed + 1000003 * self.iteration + rank())
