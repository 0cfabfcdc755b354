"""Callbacks own their checkpoint state and their evaluation weights; the Trainer saves, checks
and restores them without knowing which callback holds what, and refuses a callback list that
breaks an order rule."""

from dataclasses import replace

import numpy as np
import paddle
import pytest
from test_trainer import make_trainer, tiny_recipe

from pointrend.app.build import build_callbacks, build_dataset
from pointrend.train.callbacks import (
    BestCheckpoint,
    ExponentialMovingAverage,
    PeriodicCheckpoint,
    PeriodicEvaluation,
    StopOnDivergence,
    TrainerCallback,
)
from pointrend.train.callbacks.nan_guard import NonFiniteWeightsError
from pointrend.train.checkpoint import EMA_FILE, read_state_dict, read_trainer_state


@pytest.fixture
def data_root(synthetic_cityscapes):
    return synthetic_cityscapes


class _Counter(TrainerCallback):
    """Plain-data state: the number of iterations it has seen."""

    def __init__(self):
        self.seen = 0

    def on_iteration_end(self, iteration, logs):
        self.seen += 1

    def state_dict(self):
        return {"seen": self.seen}

    def set_state_dict(self, state):
        self.seen = state["seen"]


class _TensorKeeper(TrainerCallback):
    """Tensor state in a file of its own."""

    state_file = "keeper.pdparams"

    def __init__(self, value: float):
        self.kept = {"value": paddle.full([3], value)}

    def state_dict(self):
        return dict(self.kept)

    def set_state_dict(self, state):
        self.kept = dict(state)


def test_plain_and_tensor_callback_states_are_saved_and_restored(data_root, tmp_path):
    recipe = tiny_recipe(data_root, str(tmp_path))
    counter, keeper = _Counter(), _TensorKeeper(2.5)
    make_trainer(recipe, callbacks=[counter, keeper, PeriodicCheckpoint(4)]).fit()
    checkpoint = tmp_path / "checkpoints" / "iter_0000004"
    assert read_trainer_state(checkpoint)["callbacks"]["_Counter"] == {"seen": 4}
    saved = read_state_dict(checkpoint, "keeper.pdparams")
    np.testing.assert_array_equal(saved["value"].numpy(), [2.5, 2.5, 2.5])

    counter, keeper = _Counter(), _TensorKeeper(0.0)
    make_trainer(recipe, callbacks=[counter, keeper]).restore(checkpoint)
    assert counter.seen == 4
    np.testing.assert_array_equal(keeper.kept["value"].numpy(), [2.5, 2.5, 2.5])


def test_non_finite_callback_tensors_are_never_saved(data_root, tmp_path):
    trainer = make_trainer(tiny_recipe(data_root, str(tmp_path)), callbacks=[_TensorKeeper(0.0)])
    trainer.save_checkpoint()
    trainer.callbacks[0].kept["value"] = paddle.full([3], float("nan"))
    trainer.iteration = 1
    with pytest.raises(NonFiniteWeightsError, match=r"\(keeper\.pdparams: 1 of 1 tensors"):
        trainer.save_checkpoint()
    assert trainer.finite_checkpoint_before() == tmp_path / "checkpoints" / "iter_0000000"


def test_the_ema_resumes_from_its_file_or_restarts_with_a_note(data_root, tmp_path, capsys):
    recipe = tiny_recipe(data_root, str(tmp_path))
    first = ExponentialMovingAverage(decay=0.5, warmup_iters=0)
    make_trainer(recipe, callbacks=[first, PeriodicCheckpoint(4)]).fit()
    checkpoint = tmp_path / "checkpoints" / "iter_0000004"
    second = ExponentialMovingAverage(decay=0.5, warmup_iters=0)
    make_trainer(recipe, callbacks=[second]).restore(checkpoint)
    for name, average in first.shadow.items():
        np.testing.assert_array_equal(second.shadow[name].numpy(), average.numpy())

    (checkpoint / EMA_FILE).unlink()
    third = ExponentialMovingAverage(decay=0.5, warmup_iters=0)
    make_trainer(recipe, callbacks=[third]).restore(checkpoint)
    assert third.shadow is None
    assert (
        f"{checkpoint} has no {EMA_FILE}: the average restarts from the loaded weights"
        in capsys.readouterr().out
    )


@pytest.mark.parametrize(
    "callbacks, message",
    [
        (
            lambda dataset: [PeriodicCheckpoint(2), ExponentialMovingAverage()],
            "ExponentialMovingAverage must run before PeriodicCheckpoint (a checkpoint holds "
            "the average of its own iteration)",
        ),
        (
            lambda dataset: [BestCheckpoint(), PeriodicEvaluation(dataset, 2, "out")],
            "PeriodicEvaluation must run before BestCheckpoint (it needs the score of the same "
            "iteration)",
        ),
        (
            lambda dataset: [PeriodicEvaluation(dataset, 2, "out"), PeriodicCheckpoint(2)],
            "PeriodicCheckpoint must run before PeriodicEvaluation (a failing evaluation never "
            "costs that iteration's checkpoint)",
        ),
        (
            lambda dataset: [PeriodicCheckpoint(2), StopOnDivergence()],
            "StopOnDivergence must run before PeriodicCheckpoint (training stops before a "
            "diverged network is saved)",
        ),
    ],
)
def test_a_callback_list_in_the_wrong_order_is_refused_naming_both_and_the_rule(
    data_root, tmp_path, callbacks, message
):
    recipe = tiny_recipe(data_root, str(tmp_path))
    listed = callbacks(build_dataset(recipe.data, train=False))
    with pytest.raises(ValueError) as refused:
        make_trainer(recipe, callbacks=listed)
    text = str(refused.value)
    assert text == f"callback order: {message}, but the list puts it after; reorder the callbacks"


def test_callbacks_added_after_construction_are_checked_when_training_starts(data_root, tmp_path):
    trainer = make_trainer(tiny_recipe(data_root, str(tmp_path)), callbacks=[PeriodicCheckpoint(2)])
    trainer.callbacks.append(ExponentialMovingAverage())
    with pytest.raises(ValueError, match="ExponentialMovingAverage must run before"):
        trainer.fit()


def test_the_recipe_built_callback_list_passes_the_order_check(data_root, tmp_path):
    recipe = tiny_recipe(data_root, str(tmp_path))
    switched_on = {
        name: replace(getattr(recipe.callbacks, name), enabled=True)
        for name in ("ema", "divergence", "tensorboard")
    }
    recipe = replace(recipe, callbacks=replace(recipe.callbacks, evaluation=True, **switched_on))
    callbacks = build_callbacks(recipe, build_dataset(recipe.data, train=False))
    names = [type(callback).__name__ for callback in callbacks]
    assert names == [
        "ExponentialMovingAverage",
        "ProgressLogger",
        "StopOnDivergence",
        "PeriodicCheckpoint",
        "PeriodicEvaluation",
        "TensorBoardLogger",
        "BestCheckpoint",
    ]
    make_trainer(recipe, callbacks=callbacks)
