"""Your own data end to end: custom5 (5 classes, colour masks, dataset.json) through the custom
recipe's command line: train a few iterations, evaluate with its class names, predict in its
palette."""

import json
import os
from dataclasses import replace

import cv2
import numpy as np
import pytest
from data_fixtures import make_custom5

from pointrend.app.cli import RecipeCommands, run_cli
from pointrend.config.recipe import CallbacksConfig, EvalConfig, TensorBoardConfig
from pointrend.data.synthetic_custom import CUSTOM5_CLASSES, CUSTOM5_PALETTE
from recipes.semfpn_pointrend_custom import RECIPE

TINY_MODEL = {
    "backbone_depth": 18, "backbone_base_channels": 8, "fpn_channels": 16, "head_channels": 8,
    "point_head_fc_channels": 16, "train_num_points": 64, "subdivision_num_points": 512,
}  # fmt: skip


def _commands(root: str, output_dir: str) -> RecipeCommands:
    recipe = replace(
        RECIPE,
        output_dir=output_dir,
        device="cpu",
        model=replace(RECIPE.model, **TINY_MODEL),
        data=replace(
            RECIPE.data,
            root=root,
            batch_size=2,
            num_workers=0,
            crop_size=(64, 128),
            scale_range=None,
        ),
        schedule=replace(
            RECIPE.schedule,
            iters=3,
            warmup_iters=1,
            eval_interval=0,
            checkpoint_interval=0,
            log_interval=1,
        ),
        callbacks=CallbacksConfig(
            evaluation=True, tensorboard=TensorBoardConfig(enabled=True, num_images=1)
        ),
        eval=EvalConfig(num_workers=0),
    )
    return RecipeCommands(recipe, classes_from_dataset=True)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = make_custom5(
        str(tmp_path_factory.mktemp("custom5")), num_train=4, num_val=2, num_test=2, size=(64, 128)
    )
    output_dir = str(tmp_path_factory.mktemp("run"))
    commands = _commands(root, output_dir)
    run_cli(commands, argv=["train"])
    return commands, root, output_dir


def test_training_takes_the_classes_from_dataset_json(trained):
    _, _, output_dir = trained
    with open(os.path.join(output_dir, "recipe.json")) as handle:
        recipe = json.load(handle)
    assert recipe["model"]["num_classes"] == 5 and recipe["data"]["ignore_index"] == 255
    with open(os.path.join(output_dir, "eval_iter_0000003.json")) as handle:
        assert list(json.load(handle)["per_class_IoU"]) == list(CUSTOM5_CLASSES)


def test_eval_table_names_the_classes(trained, capsys):
    commands, _, _ = trained
    run_cli(commands, argv=["eval"])
    out = capsys.readouterr().out
    table_rows = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert set(CUSTOM5_CLASSES) <= table_rows and "mIoU" in out


def test_predictions_are_drawn_in_the_dataset_palette(trained, tmp_path):
    commands, root, _ = trained
    run_cli(commands, argv=["predict", f"--input={root}/images/test", f"--output={tmp_path}"])
    colors = sorted((tmp_path / "color").glob("*.png"))
    assert [path.name for path in colors] == ["scene_0000.png", "scene_0001.png"]
    allowed = {tuple(color) for color in CUSTOM5_PALETTE} | {(0, 0, 0)}
    for path in colors:
        rgb = cv2.imread(str(path))[..., ::-1].reshape(-1, 3)
        assert {tuple(int(c) for c in color) for color in np.unique(rgb, axis=0)} <= allowed
    labels = cv2.imread(str(tmp_path / "trainid" / "scene_0000.png"), cv2.IMREAD_UNCHANGED)
    assert labels.shape == (64, 128) and labels.max() < 5


def test_a_recipe_that_disagrees_with_the_data_is_one_clear_error(trained, capsys):
    commands, root, _ = trained
    with pytest.raises(SystemExit) as exit_info:
        run_cli(commands, argv=["eval", "--model.num_classes=19"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1
    assert f"--model.num_classes=19 but the dataset at --data.root={root} has 5 classes" in err
    assert "set --model.num_classes=5, or use recipes.semfpn_pointrend_custom" in err
