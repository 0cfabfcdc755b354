"""Trainer on hapi: schedule, accumulation, EMA, NaN guard, interrupt, checkpoints, build errors."""

import itertools
import json
import math
import os
import signal
import warnings
from dataclasses import replace

import numpy as np
import paddle
import pytest
from tiny_training import TINY_MODEL

from pointrend.app.build import (
    build_dataset,
    build_loss,
    build_network,
    loss_names,
    semantic_fpn_arguments,
)
from pointrend.app.errors import DatasetError, describe
from pointrend.config.recipe import (
    CallbacksConfig,
    DataConfig,
    EvalConfig,
    OptimConfig,
    Recipe,
    ScheduleConfig,
    recipe_to_dict,
)
from pointrend.data.sample_errors import BadSampleError
from pointrend.train.amp import amp_configs
from pointrend.train.callbacks import (
    BestCheckpoint,
    ExponentialMovingAverage,
    NonFiniteLossError,
    PeriodicCheckpoint,
    PeriodicEvaluation,
    TrainerCallback,
    TrainingInterrupted,
)
from pointrend.train.checkpoint import (
    MODEL_FILE,
    OPTIMIZER_FILE,
    CheckpointError,
    read_state_dict,
    read_trainer_state,
    resolve_checkpoint,
)
from pointrend.train.settings import TrainingSettingError
from pointrend.train.trainer import Trainer


@pytest.fixture
def data_root(synthetic_cityscapes):
    return synthetic_cityscapes


def tiny_recipe(root: str, output_dir: str, **model_overrides) -> Recipe:
    return Recipe(
        name="tiny",
        output_dir=output_dir,
        model=replace(TINY_MODEL, **model_overrides),
        data=DataConfig(
            root=root, batch_size=2, num_workers=0, crop_size=(64, 128), scale_range=(0.75, 1.25)
        ),
        optim=OptimConfig(lr=0.01, weight_decay=1e-4),
        schedule=ScheduleConfig(
            iters=4, warmup_iters=1, checkpoint_interval=2, eval_interval=0, log_interval=2
        ),
        callbacks=CallbacksConfig(evaluation=False),
        eval=EvalConfig(num_workers=0),
        device="cpu",
    )


def make_trainer(recipe: Recipe, callbacks=(), loss=None, dataset=None) -> Trainer:
    paddle.seed(recipe.seed)
    return Trainer(
        build_network(recipe.model),
        loss or build_loss(recipe),
        dataset if dataset is not None else build_dataset(recipe.data, train=True),
        optim=recipe.optim,
        schedule=recipe.schedule,
        batch_size=recipe.data.batch_size,
        output_dir=recipe.output_dir,
        callbacks=list(callbacks),
        loss_names=loss_names(recipe.model),
        seed=recipe.seed,
        recipe=recipe_to_dict(recipe),
    )


def weights(network) -> dict:
    return {k: v.numpy().copy() for k, v in network.state_dict().items()}


class _AtIteration(TrainerCallback):
    def __init__(self, iteration, action):
        self.iteration = iteration
        self.action = action

    def on_iteration_end(self, iteration, logs):
        if iteration == self.iteration:
            self.action()


def test_accumulated_micro_batches_match_one_full_batch(data_root, tmp_path):
    # GroupNorm and frozen BN do not depend on how the batch is split, and the baseline has no
    # random point sampling, so two micro-batches of 2 make the update of one batch of 4 up to
    # the per-micro-batch normalisation of the loss by its count of labelled pixels.
    base = tiny_recipe(data_root, str(tmp_path / "a"), norm="frozen_bn", point_head=False)
    base = replace(
        base,
        data=replace(base.data, batch_size=4, scale_range=None),
        schedule=replace(base.schedule, iters=3),
    )
    whole = make_trainer(base)
    initial = weights(whole.network)
    whole.fit()
    split = make_trainer(
        replace(base, output_dir=str(tmp_path / "b"), optim=replace(base.optim, accumulate_steps=2))
    )
    split.fit()
    assert whole.iteration == split.iteration == 3
    assert whole.lr_scheduler.last_epoch == split.lr_scheduler.last_epoch == 3
    expected, actual = weights(whole.network), weights(split.network)
    for name in expected:
        update = np.abs(expected[name] - initial[name]).max()
        if update > 0:
            # Summing instead of averaging the micro-batch gradients would double the update.
            assert np.abs(actual[name] - expected[name]).max() < 0.1 * update, name


def test_checkpoint_stores_the_scheduler_in_step_with_the_weights(data_root, tmp_path):
    recipe = tiny_recipe(data_root, str(tmp_path))
    trainer = make_trainer(recipe, callbacks=[PeriodicCheckpoint(interval=2)])
    trainer.fit()
    for iteration in (2, 4):
        checkpoint = tmp_path / "checkpoints" / f"iter_{iteration:07d}"
        assert read_trainer_state(checkpoint)["iteration"] == iteration
        assert (
            read_state_dict(checkpoint, OPTIMIZER_FILE)["LR_Scheduler"]["last_epoch"] == iteration
        )
    assert resolve_checkpoint(str(tmp_path)).name == "iter_0000004"
    assert trainer.current_lr() == pytest.approx(0.0, abs=1e-12)


def _evaluation_callbacks(monkeypatch, tmp_path, scores: dict, checkpoint_interval: int) -> list:
    """Periodic checkpoint, evaluation every iteration scoring `scores[iteration]` (an exception
    instance is raised instead), best-checkpoint pointer: the order build_callbacks uses."""
    from pointrend.train.callbacks import evaluation

    evaluations = itertools.count(1)

    def fake_evaluate(network, dataset, progress, **options):
        score = scores[next(evaluations)]
        if isinstance(score, Exception):
            raise score
        return {"mIoU": score, "num_images": 2}

    monkeypatch.setattr(evaluation, "evaluate_dataset", fake_evaluate)
    monkeypatch.setattr(
        evaluation, "format_results_table", lambda results: f"mIoU {results['mIoU']}"
    )
    return [
        PeriodicCheckpoint(interval=checkpoint_interval),
        PeriodicEvaluation(None, 1, str(tmp_path)),
        BestCheckpoint("mIoU"),
    ]


def test_a_failing_evaluation_keeps_the_checkpoint_of_its_iteration(
    data_root, tmp_path, monkeypatch
):
    callbacks = _evaluation_callbacks(
        monkeypatch, tmp_path, {1: 0.5, 2: RuntimeError("broken eval")}, 2
    )
    with pytest.raises(RuntimeError, match="broken eval"):
        make_trainer(tiny_recipe(data_root, str(tmp_path)), callbacks=callbacks).fit()
    assert resolve_checkpoint(str(tmp_path)).name == "iter_0000002"
    assert read_trainer_state(tmp_path / "checkpoints" / "iter_0000002")["iteration"] == 2


def test_the_best_pointer_follows_the_evaluations(data_root, tmp_path, monkeypatch):
    # A new best at iteration 1 has no periodic checkpoint: one is saved for it. Iteration 2
    # scores lower: its checkpoint records the score, best.json stays.
    callbacks = _evaluation_callbacks(monkeypatch, tmp_path, {1: 0.5, 2: 0.4, 3: 0.7, 4: 0.6}, 2)
    make_trainer(tiny_recipe(data_root, str(tmp_path)), callbacks=callbacks).fit()
    directory = tmp_path / "checkpoints"
    assert json.loads((directory / "best.json").read_text()) == {
        "checkpoint": "iter_0000003",
        "iteration": 3,
        "mIoU": 0.7,
    }
    for iteration, score in ((2, 0.4), (3, 0.7), (4, 0.6)):
        info = json.loads((directory / f"iter_{iteration:07d}" / "checkpoint.json").read_text())
        assert info["metrics"]["mIoU"] == score, iteration
    assert resolve_checkpoint(str(tmp_path), prefer="best").name == "iter_0000003"


def test_nan_loss_stops_before_anything_saves_the_broken_weights(data_root, tmp_path):
    recipe = tiny_recipe(data_root, str(tmp_path))
    real_loss = build_loss(recipe)
    calls = []

    def loss_turning_nan(*args):
        calls.append(1)
        terms = real_loss(*args)
        return [t * float("nan") for t in terms] if len(calls) == 3 else terms

    trainer = make_trainer(
        recipe, callbacks=[PeriodicCheckpoint(interval=1)], loss=loss_turning_nan
    )
    with pytest.raises(
        NonFiniteLossError,
        match=r"iteration 3 \(coarse_ce=nan.*newest sound checkpoint is .*iter_0000002",
    ) as stop:
        trainer.fit()
    fixes = "Usual fixes: a lower {}, a longer {}, or {}=<e.g. 10>."
    settings = ("optim.lr", "schedule.warmup_iters", "optim.grad_clip_norm")
    assert str(stop.value).endswith(fixes.format(*settings)), "the Trainer's own terms"
    line = describe(stop.value)
    assert line.startswith("error: loss is not finite at iteration 3 (coarse_ce=nan")
    assert line.endswith(fixes.format(*(f"--{name}" for name in settings))), "the command line's"
    assert resolve_checkpoint(str(tmp_path)).name == "iter_0000002"
    saved = read_state_dict(tmp_path / "checkpoints" / "iter_0000002", MODEL_FILE)
    assert all(np.isfinite(v.numpy()).all() for v in saved.values())


def test_interrupt_saves_at_the_iteration_boundary_and_restores_handlers(data_root, tmp_path):
    recipe = tiny_recipe(data_root, str(tmp_path))
    before = signal.getsignal(signal.SIGINT)
    trainer = make_trainer(
        recipe, callbacks=[_AtIteration(1, lambda: os.kill(os.getpid(), signal.SIGINT))]
    )
    with pytest.raises(TrainingInterrupted) as stop:
        trainer.fit()
    assert stop.value.iteration == 1 and stop.value.checkpoint.endswith("iter_0000001")
    saved = f"interrupted at iteration 1; checkpoint saved to {stop.value.checkpoint}. "
    assert str(stop.value) == saved + (
        "Continue with Trainer.fit(resume=<that checkpoint or its output directory>)"
    )
    assert describe(stop.value) == saved + "Continue with the same command plus --resume"
    assert read_trainer_state(resolve_checkpoint(str(tmp_path)))["iteration"] == 1
    assert signal.getsignal(signal.SIGINT) is before


class _Unreadable(paddle.io.Dataset):
    """A training set none of whose images can be read."""

    def __init__(self, dataset) -> None:
        self.image_paths = dataset.image_paths

    def __len__(self) -> int:
        return len(self.image_paths)

    def __getitem__(self, key):
        raise OSError("cannot be decoded")


def test_a_bad_sample_names_the_setting_that_leaves_it_out(data_root, tmp_path):
    recipe = tiny_recipe(data_root, str(tmp_path))
    dataset = _Unreadable(build_dataset(recipe.data, train=True))
    with pytest.raises(BadSampleError) as stop:
        make_trainer(recipe, dataset=dataset).fit()
    message = str(stop.value)
    assert any(message.startswith(f"{path}: ") for path in dataset.image_paths)
    assert message.endswith(
        "cannot be decoded (met while training iteration 1; fix or remove the file, or set "
        'on_bad_sample="skip" to leave bad samples out)'
    )
    assert describe(stop.value) == "error: " + message.replace(
        'on_bad_sample="skip"', "--data.on_bad_sample=skip"
    )


def test_ema_weights_are_evaluated_and_the_raw_weights_come_back(data_root, tmp_path):
    ema = ExponentialMovingAverage(decay=0.5, warmup_iters=0)
    trainer = make_trainer(tiny_recipe(data_root, str(tmp_path)), callbacks=[ema])
    trainer.fit()
    raw = weights(trainer.network)
    with trainer.evaluation_weights():
        inside = weights(trainer.network)
    after = weights(trainer.network)
    name = next(k for k in raw if k.endswith("weight") and "conv" in k)
    np.testing.assert_array_equal(inside[name], ema.shadow[name].numpy())
    assert not np.array_equal(inside[name], raw[name])
    for key in raw:
        np.testing.assert_array_equal(after[key], raw[key])


def test_ema_decay_warms_up():
    ema = ExponentialMovingAverage(decay=0.999, warmup_iters=100)
    assert ema.decay_at(0) == 0.0
    assert ema.decay_at(100) == pytest.approx(0.999 * (1 - math.exp(-1)))
    assert ema.decay_at(10_000) == pytest.approx(0.999, rel=1e-6)


def test_checkpoint_of_another_model_names_the_recipe_difference(data_root, tmp_path):
    recipe = tiny_recipe(data_root, str(tmp_path))
    make_trainer(recipe, callbacks=[PeriodicCheckpoint(interval=4)]).fit()
    baseline = replace(recipe, model=replace(recipe.model, point_head=False, num_classes=8))
    with pytest.raises(
        CheckpointError,
        match=r"does not fit this model: .*model.num_classes=19 \(here 8\), "
        r"model.point_head=True \(here False\)",
    ):
        make_trainer(baseline).restore(str(tmp_path))


def test_optimizer_state_under_other_parameter_names_is_refused(data_root, tmp_path):
    recipe = tiny_recipe(data_root, str(tmp_path))
    make_trainer(recipe, callbacks=[PeriodicCheckpoint(interval=4)]).fit()
    paddle.utils.unique_name.generate("conv2d")  # shift the generated names outside any guard
    from pointrend.models import build_model

    unguarded = Trainer(
        build_model(**semantic_fpn_arguments(recipe.model)),
        build_loss(recipe),
        build_dataset(recipe.data, train=True),
        optim=recipe.optim,
        schedule=recipe.schedule,
        batch_size=2,
        output_dir=str(tmp_path / "other"),
        recipe=recipe_to_dict(recipe),
    )
    with pytest.raises(CheckpointError, match="unique_name.guard"):
        unguarded.restore(str(tmp_path))


def test_missing_dataset_names_the_root_and_the_field(tmp_path):
    recipe = tiny_recipe(str(tmp_path / "nowhere"), str(tmp_path))
    with pytest.raises(DatasetError, match=r"--data.root=.*nowhere"):
        build_dataset(recipe.data, train=True)


def test_no_checkpoint_to_resume_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint found at"):
        resolve_checkpoint(str(tmp_path))


def test_batch_that_does_not_split_over_accumulation_is_refused(data_root, tmp_path):
    recipe = tiny_recipe(data_root, str(tmp_path))
    with pytest.raises(TrainingSettingError, match="^batch_size=2 is not divisible"):
        make_trainer(replace(recipe, optim=replace(recipe.optim, accumulate_steps=4)))


def test_amp_on_cpu_warns_once_and_trains_in_float32():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert amp_configs(True, "O1", "float16", on_gpu=False) is None
    assert len(caught) == 1 and "float32" in str(caught[0].message)
    assert amp_configs(True, "O2", "float16", on_gpu=True)["use_dynamic_loss_scaling"] is True
    assert amp_configs(False, "O1", "float16", on_gpu=True) is None
    with pytest.raises(TrainingSettingError, match="O2 with bfloat16"):
        amp_configs(True, "O2", "bfloat16", on_gpu=True)
