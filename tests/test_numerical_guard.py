"""Checkpoints only from finite weights; a numerical stop points "latest" at the newest sound
checkpoint; non-finite weights are neither evaluated nor resumed; batches and validation splits
without a labelled pixel are reported, not a silent 0 or a crash."""

from dataclasses import replace

import cv2
import numpy as np
import paddle
import pytest
from test_trainer import make_trainer, tiny_recipe

from pointrend.app.build import build_trainer
from pointrend.app.commands import load_for_inference
from pointrend.app.runtime import setup_runtime
from pointrend.data import generate_synthetic_cityscapes
from pointrend.data.cityscapes import CityscapesDataset
from pointrend.train.callbacks import NonFiniteLossError, PeriodicCheckpoint
from pointrend.train.checkpoint import (
    EMA_FILE,
    MODEL_FILE,
    OPTIMIZER_FILE,
    CheckpointError,
    complete_checkpoints,
    read_state_dict,
    resolve_checkpoint,
)
from pointrend.train.finite import non_finite_tensors


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("synthetic"))
    generate_synthetic_cityscapes(root, num_train=4, num_val=1, size=(64, 128))
    return root


@pytest.fixture(scope="module")
def unlabelled_root(tmp_path_factory):
    """Every label pixel is ignore_index (255)."""
    root = str(tmp_path_factory.mktemp("unlabelled"))
    generate_synthetic_cityscapes(root, num_train=2, num_val=1, size=(64, 128))
    for split in ("train", "val"):
        for path in CityscapesDataset(root, split=split).label_paths:
            cv2.imwrite(path, np.full_like(cv2.imread(path, cv2.IMREAD_UNCHANGED), 255))
    return root


def poison(checkpoint) -> None:
    """Make one weight of a saved checkpoint NaN, as an unguarded save would have left it."""
    state = read_state_dict(checkpoint, MODEL_FILE)
    name = next(iter(state))
    state[name] = paddle.full_like(state[name], float("nan"))
    paddle.save(state, str(checkpoint / MODEL_FILE))


def test_a_diverging_run_saves_only_finite_weights_and_names_the_newest(data_root, tmp_path):
    recipe = tiny_recipe(data_root, str(tmp_path))
    recipe = replace(
        recipe, optim=replace(recipe.optim, lr=1e3), schedule=replace(recipe.schedule, iters=20)
    )
    trainer = make_trainer(recipe, callbacks=[PeriodicCheckpoint(1)])
    with pytest.raises(NonFiniteLossError, match="newest sound checkpoint is .*iter_") as stop:
        trainer.fit()
    saved = complete_checkpoints(trainer.checkpoints.directory)
    assert saved and str(saved[-1]) in str(stop.value)
    for checkpoint in saved:
        for file_name in (MODEL_FILE, OPTIMIZER_FILE):
            assert non_finite_tensors(read_state_dict(checkpoint, file_name))[0] == []
    assert resolve_checkpoint(tmp_path) == saved[-1]


def test_the_stop_moves_latest_back_past_non_finite_checkpoints(data_root, tmp_path):
    trainer = make_trainer(tiny_recipe(data_root, str(tmp_path)), callbacks=[PeriodicCheckpoint(1)])
    trainer.fit()
    for iteration in (3, 4):
        poison(trainer.checkpoints.path_of(iteration))
    where = trainer.fall_back_to_finite_checkpoint()
    assert "iter_0000002: latest.json points back at it" in where
    assert resolve_checkpoint(tmp_path).name == "iter_0000002"


def test_non_finite_weights_are_neither_evaluated_nor_resumed(data_root, tmp_path):
    recipe = tiny_recipe(data_root, str(tmp_path))
    make_trainer(recipe, callbacks=[PeriodicCheckpoint(4)]).fit()
    checkpoint = resolve_checkpoint(tmp_path)
    poison(checkpoint)
    (checkpoint / EMA_FILE).unlink(missing_ok=True)
    with pytest.raises(CheckpointError, match=r"holds non-finite weights \(1 of \d+ tensors"):
        load_for_inference(recipe, str(checkpoint))
    with pytest.raises(CheckpointError, match="resuming from it would give meaningless results"):
        make_trainer(recipe).restore(checkpoint)


def unlabelled_run(root, output_dir, evaluation: bool):
    recipe = tiny_recipe(root, str(output_dir))
    recipe = replace(
        recipe,
        schedule=replace(recipe.schedule, iters=2),
        callbacks=replace(recipe.callbacks, evaluation=evaluation),
    )
    return build_trainer(recipe, setup_runtime(recipe.device, recipe.seed, recipe.threads))


def test_a_batch_without_labelled_pixels_is_reported(unlabelled_root, tmp_path, capsys):
    unlabelled_run(unlabelled_root, tmp_path, evaluation=False).fit()
    err = capsys.readouterr().err
    assert "warning: iteration 1: the batch has no labelled pixel (every label pixel is " in err
    assert "ignore_index=255), so its loss is 0" in err and "_leftImg8bit.png" in err


def test_validation_without_labelled_pixels_is_reported_after_the_save(
    unlabelled_root, tmp_path, capsys
):
    trainer = unlabelled_run(unlabelled_root, tmp_path, evaluation=True)
    trainer.fit()
    out = capsys.readouterr().out
    assert "validation images have no labelled pixel" in out and "mIoU is undefined" in out
    assert out.index("checkpoint saved") < out.index("evaluation at iteration 2")
    assert trainer.checkpoints.best() is None
