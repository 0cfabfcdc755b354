"""The recipe commands end to end on a tiny model: train -> eval (with/without subdivision) ->
predict."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
from tiny_training import two_iteration_recipe

from pointrend.app.cli import RecipeCommands, run_cli
from pointrend.app.commands import evaluate, predict, train
from pointrend.config.recipe import (
    CallbacksConfig,
    TensorBoardConfig,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, synthetic_cityscapes):
    recipe = two_iteration_recipe(
        synthetic_cityscapes,
        str(tmp_path_factory.mktemp("run")),
        CallbacksConfig(evaluation=True, tensorboard=TensorBoardConfig(enabled=True, num_images=1)),
    )
    train(recipe)
    return recipe


def test_training_writes_recipe_checkpoint_evaluation_and_tensorboard(trained):
    out = trained.output_dir
    assert json.load(open(f"{out}/recipe.json"))["model"]["backbone_base_channels"] == 8
    assert json.load(open(f"{out}/checkpoints/best.json"))["iteration"] == 2
    assert "mIoU" in json.load(open(f"{out}/eval_iter_0000002.json"))
    info = json.load(open(f"{out}/checkpoints/iter_0000002/checkpoint.json"))
    assert info["recipe"]["name"] == "tiny" and info["metrics"]["num_images"] == 2
    (events,) = list(Path(out, "tensorboard").glob("events.out.tfevents.*"))
    content = events.read_bytes()
    for tag in (
        b"train/coarse_ce",
        b"train/point_ce",
        b"train/lr",
        b"train/images_per_second",
        b"val/mIoU",
        b"val_IoU/traffic_sign",
        b"val_prediction/0",
    ):
        assert tag in content, tag


def test_eval_compares_with_and_without_subdivision_on_the_same_weights(trained, capsys):
    results = evaluate(
        replace(trained, eval=replace(trained.eval, compare_without_subdivision=True))
    )
    assert set(results) == {"subdivision_steps=2", "subdivision_steps=0"}
    assert "subdivision_steps=2  subdivision_steps=0" in capsys.readouterr().out


def test_predict_writes_label_colour_and_points_pictures(trained, tmp_path):
    summary = predict(
        trained, f"{trained.data.root}/leftImg8bit/val", output=str(tmp_path), save_points=True
    )
    assert summary["num_predicted"] == 2 and summary["num_failed"] == 0
    for kind in ("trainid", "color", "points"):
        assert len(list((tmp_path / kind).rglob("*.*"))) == 2, kind


def test_resuming_a_finished_run_has_nothing_to_do(trained, capsys):
    run_cli(RecipeCommands(trained), argv=["train", "--resume"])
    assert "nothing to do: the schedule of 2 iterations is complete" in capsys.readouterr().out


def test_load_checkpoint_returns_the_trained_network_with_its_normalisation(trained):
    import numpy as np
    import paddle

    import pointrend
    from pointrend.app.commands import load_for_inference

    network = pointrend.load_checkpoint(trained.output_dir)
    expected, _ = load_for_inference(trained)
    assert not network.training
    assert network.normalization.mean == tuple(trained.data.mean) and network.normalization.to_rgb
    image = np.random.default_rng(0).integers(0, 256, (64, 128, 3), dtype=np.uint8)
    images = paddle.to_tensor(network.normalization(image))
    with paddle.no_grad():
        np.testing.assert_array_equal(network(images).numpy(), expected(images).numpy())
