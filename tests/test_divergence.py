"""A loss that explodes and stays far above its early level stops training (or warns) naming
the last checkpoint from before it; normal training never trips the rule."""

from dataclasses import replace

import pytest
from test_numerical_guard import data_root  # noqa: F401 (fixture)
from test_trainer import make_trainer, tiny_recipe

from pointrend.app.build import build_callbacks, build_loss
from pointrend.app.errors import describe
from pointrend.config.recipe import RecipeError
from pointrend.config.validate import validate
from pointrend.train.callbacks import (
    LossDivergedError,
    PeriodicCheckpoint,
    StopOnDivergence,
    TrainerCallback,
)
from pointrend.train.checkpoint import read_trainer_state, resolve_checkpoint

FROM_ITERATION = 6


def recipe_of(root, output_dir, iters=12):
    recipe = tiny_recipe(root, str(output_dir))
    return replace(recipe, schedule=replace(recipe.schedule, iters=iters))


class LossJumpingUp(TrainerCallback):
    """The real loss, lifted by a constant from FROM_ITERATION on: the level explodes while
    the gradients (and so the weights) stay those of normal training."""

    def __init__(self, recipe) -> None:
        self.real_loss = build_loss(recipe)
        self.lifted = False

    def on_iteration_end(self, iteration, logs):
        self.lifted = iteration >= FROM_ITERATION - 1

    def loss(self, *args):
        terms = self.real_loss(*args)
        return [term + 50.0 for term in terms] if self.lifted else terms


def jumping_trainer(recipe, *callbacks):
    jump = LossJumpingUp(recipe)
    return make_trainer(recipe, callbacks=[jump, *callbacks], loss=jump.loss)


def watch(stop=True):
    return StopOnDivergence(baseline_iters=3, window=3, factor=5.0, stop=stop)


def test_a_diverged_loss_stops_and_latest_moves_back_before_it(data_root, tmp_path):  # noqa: F811
    recipe = recipe_of(data_root, tmp_path)
    trainer = jumping_trainer(recipe, watch(), PeriodicCheckpoint(1))
    with pytest.raises(LossDivergedError) as stop:
        trainer.fit()
    message = str(stop.value)
    assert "its median over iterations 5-7 is" in message
    assert "first crossed at iteration 6" in message
    assert "iter_0000005: latest.json points back at it, so a resume continues" in message
    fixes = (
        "Usual fixes: a lower {lr}, a longer {warmup}, or {clip}=<e.g. 10>. "
        "The rule's thresholds: {baseline}=3, {window}=3, {factor}=5."
    )
    names = {
        "lr": "optim.lr",
        "warmup": "schedule.warmup_iters",
        "clip": "optim.grad_clip_norm",
        "baseline": "baseline_iters",
        "window": "window",
        "factor": "factor",
    }
    assert message.endswith(fixes.format(**names)), "the library names its own settings"
    flags = {**names, "baseline": "callbacks.divergence.baseline_iters"}
    flags.update(window="callbacks.divergence.window", factor="callbacks.divergence.factor")
    line = describe(stop.value)
    assert line.endswith(fixes.format(**{k: f"--{v}" for k, v in flags.items()}))
    assert "so a --resume continues" in line and "iterations 5-7" in line
    assert trainer.iteration == 7 and resolve_checkpoint(tmp_path).name == "iter_0000005"
    assert not trainer.checkpoints.has(7), "nothing is saved at the iteration that stopped"


def test_without_stop_a_warning_names_the_checkpoint_before_it(data_root, tmp_path, capsys):  # noqa: F811
    recipe = recipe_of(data_root, tmp_path)
    jumping_trainer(recipe, watch(stop=False), PeriodicCheckpoint(1)).fit()
    err = capsys.readouterr().err
    assert err.count("warning: the loss diverged") == 1
    assert "the last checkpoint from before it is" in err and "iter_0000005" in err
    assert "a lower optim.lr" in err and "factor=5." in err and "--" not in err


def test_the_command_line_warning_names_flags(data_root, tmp_path, capsys):  # noqa: F811
    recipe = recipe_of(data_root, tmp_path)
    divergence = replace(
        recipe.callbacks.divergence, baseline_iters=3, window=3, factor=5.0, stop=False
    )
    recipe = replace(recipe, callbacks=replace(recipe.callbacks, divergence=divergence))
    (rule,) = [c for c in build_callbacks(recipe, None) if isinstance(c, StopOnDivergence)]
    jumping_trainer(recipe, rule, PeriodicCheckpoint(1)).fit()
    err = capsys.readouterr().err
    assert err.count("warning: the loss diverged") == 1 and "iter_0000005" in err
    assert "a lower --optim.lr, a longer --schedule.warmup_iters" in err
    assert "--callbacks.divergence.window=3, --callbacks.divergence.factor=5." in err


def test_normal_training_does_not_trip_the_rule(data_root, tmp_path):  # noqa: F811
    trainer = make_trainer(recipe_of(data_root, tmp_path), callbacks=[watch()])
    trainer.fit()
    assert trainer.iteration == 12


def test_the_early_level_survives_a_resume(data_root, tmp_path):  # noqa: F811
    recipe = recipe_of(data_root, tmp_path, iters=6)
    first = watch()
    make_trainer(recipe, callbacks=[first, PeriodicCheckpoint(4)]).fit()
    saved = read_trainer_state(tmp_path / "checkpoints" / "iter_0000004")["callbacks"]
    assert saved["StopOnDivergence"]["baseline"] == first.baseline
    second = watch()
    trainer = make_trainer(recipe, callbacks=[second])
    trainer.restore(tmp_path / "checkpoints" / "iter_0000004")
    assert second.baseline == first.baseline and second.early == first.early


def test_thresholds_are_checked(data_root, tmp_path):  # noqa: F811
    recipe = recipe_of(data_root, tmp_path)
    bad = replace(recipe.callbacks, divergence=replace(recipe.callbacks.divergence, factor=0.5))
    with pytest.raises(RecipeError, match="^callbacks.divergence.factor must be > 1") as error:
        validate(replace(recipe, callbacks=bad))
    assert describe(error.value).startswith("error: --callbacks.divergence.factor must be > 1")
