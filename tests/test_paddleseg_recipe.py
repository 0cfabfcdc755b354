"""recipes.pointrend_paddleseg_r101_os8_cityscapes (and its R50 variant): PaddleSeg's config
settings, a narrow variant of its network trained from a PaddleSeg-format ImageNet tar and
evaluated with flip and scales through the recipe's own commands, and PaddleSeg's own PointRend
weights (the r18vd reference case, converted) evaluated by it."""

from __future__ import annotations

import bz2
import json
import tarfile
from pathlib import Path

import numpy as np
import paddle
import pytest

import pointrend
from pointrend.app.build import build_network
from pointrend.app.cli import RecipeCommands, run_cli
from pointrend.app.convert import main as convert_main
from pointrend.config.recipe import apply_overrides
from pointrend.config.validate import validate
from pointrend.data import generate_synthetic_cityscapes
from pointrend.models import PADDLESEG_LAYOUT, PaddleSegFPN, PaddleSegFPNHead, build_model
from pointrend.models.pretrained import PADDLESEG_RESNET_VD_URLS, paddleseg_name, parse_name
from recipes.pointrend_paddleseg_r50_os8_cityscapes import RECIPE as R50_RECIPE
from recipes.pointrend_paddleseg_r101_os8_cityscapes import RECIPE

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "paddleseg"
POINTREND_CASE = REFERENCE / "case_pointrend_r18vd"

NARROW = {
    "model.backbone_depth": 18,
    "model.backbone_base_channels": 8,
    "model.fpn_channels": 16,
    "model.head_channels": 8,
    "model.point_head_fc_channels": 16,
    "model.train_num_points": 64,
    "model.subdivision_num_points": 512,
}


def flags(overrides: dict) -> list[str]:
    return [f"--{name}={value}" for name, value in overrides.items()]


def test_the_recipes_hold_paddlesegs_config():
    validate(RECIPE)
    validate(R50_RECIPE)
    model, data, optim, schedule = RECIPE.model, RECIPE.data, RECIPE.optim, RECIPE.schedule
    for name, value in PADDLESEG_LAYOUT.items():
        assert getattr(model, name) == value, name
    assert (model.backbone_depth, model.pretrained) == (101, PADDLESEG_RESNET_VD_URLS[101])
    assert (R50_RECIPE.model.backbone_depth, R50_RECIPE.model.pretrained) == (
        50,
        PADDLESEG_RESNET_VD_URLS[50],
    )
    assert (model.subdivision_steps, model.subdivision_num_points, model.train_num_points) == (
        2,
        8196,
        2048,
    )
    assert (data.crop_size, data.scale_range, data.scale_step) == ((512, 1024), (0.5, 2.0), 0.25)
    assert data.cat_max_ratio == 1.0 and data.flip_prob == 0.5
    assert (data.brightness, data.contrast, data.saturation) == (0.4, 0.4, 0.4)
    assert data.hue == pytest.approx(18 / 255)
    assert data.mean == data.std == (0.5, 0.5, 0.5) and data.to_rgb
    assert (optim.lr, optim.momentum, optim.weight_decay) == (0.01, 0.9, 5e-4)
    assert optim.decay_norm_and_bias
    assert (schedule.iters, schedule.warmup_iters, schedule.power, schedule.min_lr) == (
        80000,
        0,
        0.9,
        0.0,
    )
    assert (RECIPE.loss.coarse_weight, RECIPE.loss.point_weight) == (1.0, 1.0)
    assert RECIPE.eval.mode == "whole" and RECIPE.eval.scales == (1.0,)
    assert RECIPE.eval.average == "logits"


def test_show_prints_the_paddleseg_layout(capsys):
    run_cli(RecipeCommands(RECIPE), argv=["show", "--eval.flip=True"])
    printed = capsys.readouterr().out
    assert "fpn_layout: 'paddleseg'" in printed and "subdivision_num_points: 8196" in printed
    assert "flip: True" in printed and "resnet101_vd_ssld.tar.gz" in printed


def test_the_recipe_builds_paddlesegs_network():
    recipe = apply_overrides(RECIPE, {**NARROW, "model.pretrained": None})
    network = build_network(recipe.model)
    assert isinstance(network.neck, PaddleSegFPN)
    assert isinstance(network.coarse_head, PaddleSegFPNHead)
    assert network.subdivision_num_points == 512 and network.size_divisor == 1


def write_resnet18_vd_tar(folder: Path) -> tuple[Path, dict]:
    """An ImageNet backbone file in the format of PaddleSeg's resnet*_vd_ssld tars."""
    paddle.seed(3)
    tiny = {name.split(".", 1)[1]: value for name, value in NARROW.items()}
    del tiny["train_num_points"], tiny["subdivision_num_points"]
    backbone = build_model(**PADDLESEG_LAYOUT, **tiny).backbone
    state = {name: value.numpy() for name, value in backbone.state_dict().items()}
    pdparams = folder / "model.pdparams"
    paddle.save(
        {paddleseg_name(parse_name(name)): value for name, value in state.items()}, str(pdparams)
    )
    archive = folder / "resnet18_vd_ssld.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(pdparams, arcname="resnet18_vd_ssld/model.pdparams")
    return archive, state


def test_a_narrow_variant_trains_from_a_paddleseg_tar_and_evaluates_with_flip_and_scales(
    tmp_path, capsys
):
    root = tmp_path / "data"
    generate_synthetic_cityscapes(str(root), num_train=2, num_val=2, size=(64, 128))
    archive, imagenet = write_resnet18_vd_tar(tmp_path)
    overrides = {
        **NARROW,
        "model.pretrained": str(archive),
        "data.root": str(root),
        "data.batch_size": 2,
        "data.num_workers": 0,
        "data.crop_size": "[64,128]",
        "schedule.iters": 2,
        "schedule.eval_interval": 0,
        "schedule.checkpoint_interval": 0,
        "schedule.log_interval": 1,
        "callbacks.evaluation": False,
        "callbacks.tensorboard.enabled": False,
        "eval.num_workers": 0,
        "device": "cpu",
        "output_dir": str(tmp_path / "run"),
    }
    commands = RecipeCommands(RECIPE)
    run_cli(commands, argv=["train", *flags(overrides)])
    capsys.readouterr()
    saved = json.loads((tmp_path / "run" / "recipe.json").read_text())
    assert saved["model"]["fpn_layout"] == "paddleseg" and saved["data"]["scale_step"] == 0.25

    network = pointrend.load_checkpoint(tmp_path / "run")
    assert isinstance(network.neck, PaddleSegFPN)
    # Two SGD steps at lr 0.01 move the ImageNet weights only a little: they were loaded.
    for name in ("stem.conv1.weight", "res5.0.conv2.weight"):
        trained = network.backbone.state_dict()[name].numpy()
        assert np.abs(trained - imagenet[name]).max() < 0.1 * np.abs(imagenet[name]).max(), name

    aug = ["--eval.flip=True", "--eval.scales=[0.75,1.0,1.25]"]
    run_cli(commands, argv=["eval", *flags(overrides), *aug])
    assert "mIoU" in capsys.readouterr().out
    (written,) = (tmp_path / "run" / "eval").glob("*.json")
    config = json.loads(written.read_text())["results"]["config"]
    assert config["flip"] is True and config["scales"] == [0.75, 1.0, 1.25]
    assert config["average"] == "logits"
    assert config["subdivision_num_points"] == 512


@pytest.mark.skipif(
    not (POINTREND_CASE / "weights.pdparams.bz2").is_file(),
    reason=f"PaddleSeg reference case not found: {POINTREND_CASE}",
)
def test_paddlesegs_converted_weights_evaluate_through_the_recipe(tmp_path, capsys):
    pdparams = tmp_path / "model.pdparams"
    pdparams.write_bytes(bz2.decompress((POINTREND_CASE / "weights.pdparams.bz2").read_bytes()))
    converted = tmp_path / "converted"
    convert_main(["paddleseg", str(pdparams), "--out", str(converted)])
    root = tmp_path / "data"
    generate_synthetic_cityscapes(str(root), num_train=1, num_val=2, size=(66, 130))
    capsys.readouterr()
    run_cli(
        RecipeCommands(RECIPE),
        argv=[
            "eval",
            f"--checkpoint={converted}",
            f"--data.root={root}",
            "--eval.num_workers=0",
            "--eval.flip=True",
            "--device=cpu",
            f"--output_dir={tmp_path / 'run'}",
        ],
    )
    printed = capsys.readouterr().out
    assert "mIoU" in printed
    (written,) = (tmp_path / "run" / "eval").glob("*.json")
    results = json.loads(written.read_text())["results"]
    assert results["num_images"] == 2 and results["config"]["flip"] is True
    assert results["config"]["average"] == "logits"
    # The checkpoint's own (narrow r18) model ran, not the recipe's R101.
    assert results["config"]["subdivision_num_points"] == 8196
