"""STDC from a recipe: model.arch="stdc" builds STDC-Seg or STDC + PointRend with their losses, and
train -> eval -> predict -> export run end to end on synthetic Cityscapes data."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from pointrend.app.build import build_loss, build_network, loss_names
from pointrend.app.commands import evaluate, export, predict, train
from pointrend.config.recipe import (
    CallbacksConfig,
    DataConfig,
    EvalConfig,
    LossConfig,
    ModelConfig,
    Recipe,
    RecipeError,
    ScheduleConfig,
    TensorBoardConfig,
    apply_overrides,
)
from pointrend.data import generate_synthetic_cityscapes
from pointrend.models import STDCLoss, STDCPointRend, STDCPointRendLoss, STDCSeg
from recipes.stdc1_seg_cityscapes import RECIPE as STDC1_RECIPE
from recipes.stdc2_pointrend_cityscapes import RECIPE as STDC2_POINTREND_RECIPE
from recipes.stdc2_seg_cityscapes import RECIPE as STDC2_RECIPE


def read_json(path: str) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def tiny_recipe(root: str, output_dir: str, point_head: bool) -> Recipe:
    return Recipe(
        name="tiny_stdc",
        output_dir=output_dir,
        device="cpu",
        model=ModelConfig(
            arch="stdc",
            stdc_variant="stdc1",
            num_classes=19,
            point_head=point_head,
            point_head_fc_channels=16,
            train_num_points=64,
            subdivision_steps=3,
            subdivision_num_points=512,
        ),
        data=DataConfig(
            root=root, batch_size=2, num_workers=0, crop_size=(64, 128), scale_range=None
        ),
        loss=LossConfig(ohem_min_kept=1000),
        schedule=ScheduleConfig(
            iters=2, warmup_iters=0, eval_interval=0, checkpoint_interval=0, log_interval=1
        ),
        callbacks=CallbacksConfig(tensorboard=TensorBoardConfig(enabled=True, num_images=1)),
        eval=EvalConfig(num_workers=0),
    )


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("data"))
    generate_synthetic_cityscapes(root, num_train=4, num_val=2, size=(64, 128))
    return root


@pytest.mark.parametrize(
    "point_head, network_type, loss_type",
    [(False, STDCSeg, STDCLoss), (True, STDCPointRend, STDCPointRendLoss)],
)
def test_arch_stdc_builds_the_network_and_its_loss(point_head, network_type, loss_type):
    recipe = tiny_recipe("unused", "unused", point_head)
    recipe = replace(recipe, loss=replace(recipe.loss, aux_weight=0.5, detail_weight=2.0))
    assert type(build_network(recipe.model)) is network_type
    loss = build_loss(recipe)
    assert type(loss) is loss_type
    stdc_loss = loss.stdc_loss if point_head else loss
    assert stdc_loss.weights == [1.0, 0.5, 0.5, 2.0] and stdc_loss.ohem.min_kept == 1000
    expected = ["ohem_out", "ohem_out8", "ohem_out16", "detail"] + (
        ["point_ce"] if point_head else []
    )
    assert loss_names(recipe.model) == expected


def test_an_unknown_arch_is_a_recipe_error():
    with pytest.raises(RecipeError, match="model.arch must be one of"):
        build_network(ModelConfig(arch="bisenet"))


def test_published_stdc_recipes():
    for recipe, variant in ((STDC1_RECIPE, "stdc1"), (STDC2_RECIPE, "stdc2")):
        assert recipe.model.arch == "stdc" and recipe.model.stdc_variant == variant
        assert not recipe.model.point_head
        assert recipe.model.pretrained.endswith(f"STDCNet{variant[-1]}.tar.gz")
        assert recipe.data.batch_size == 36 and recipe.data.crop_size == (512, 1024)
        assert recipe.data.scale_range == (0.125, 1.5) and recipe.data.scale_step == 0.125
        assert recipe.data.mean == recipe.data.std == (0.5, 0.5, 0.5)
        assert (recipe.optim.lr, recipe.optim.weight_decay) == (0.01, 4e-5)
        assert (recipe.schedule.iters, recipe.schedule.power) == (80000, 0.9)
    assert STDC2_POINTREND_RECIPE.model.point_head
    assert STDC2_POINTREND_RECIPE.model.subdivision_steps == 3
    seg50 = apply_overrides(STDC2_RECIPE, {"eval.scales": [0.5]})
    assert seg50.eval.scales == (0.5,)


@pytest.fixture(scope="module")
def trained_stdc_seg(data_root, tmp_path_factory) -> Recipe:
    recipe = tiny_recipe(data_root, str(tmp_path_factory.mktemp("stdc_seg")), point_head=False)
    train(recipe)
    return recipe


@pytest.fixture(scope="module")
def trained_stdc_pointrend(data_root, tmp_path_factory) -> Recipe:
    recipe = tiny_recipe(data_root, str(tmp_path_factory.mktemp("stdc_pr")), point_head=True)
    train(recipe)
    return recipe


def test_stdc_seg_trains_logging_every_term_and_evaluates_at_seg50(trained_stdc_seg):
    out = trained_stdc_seg.output_dir
    assert read_json(f"{out}/recipe.json")["model"]["arch"] == "stdc"
    assert read_json(f"{out}/checkpoints/latest.json")["iteration"] == 2
    events = next((Path(out) / "tensorboard").glob("events.*")).read_bytes()
    for name in ("ohem_out", "ohem_out8", "ohem_out16", "detail"):
        assert f"train/{name}".encode() in events, name
    seg50 = replace(trained_stdc_seg, eval=replace(trained_stdc_seg.eval, scales=(0.5,)))
    results = evaluate(seg50)
    assert results["num_images"] == 2 and results["config"]["scales"] == [0.5]


def test_stdc_seg_has_no_subdivision_to_compare(trained_stdc_seg):
    recipe = replace(
        trained_stdc_seg, eval=replace(trained_stdc_seg.eval, compare_without_subdivision=True)
    )
    with pytest.raises(ValueError, match="subdivision"):
        evaluate(recipe)


def test_stdc_seg_predicts_and_exports(trained_stdc_seg, tmp_path):
    summary = predict(
        trained_stdc_seg,
        f"{trained_stdc_seg.data.root}/leftImg8bit/val",
        output=str(tmp_path / "p"),
    )
    assert summary["num_predicted"] == 2
    paths = export(trained_stdc_seg, output=str(tmp_path / "e"))
    assert read_json(paths["preprocess"])["mean"] == [0.485, 0.456, 0.406]


def test_stdc_pointrend_trains_and_compares_with_and_without_subdivision(
    trained_stdc_pointrend, tmp_path
):
    events = next((Path(trained_stdc_pointrend.output_dir) / "tensorboard").glob("events.*"))
    events = events.read_bytes()
    assert b"train/point_ce" in events and b"train/detail" in events
    recipe = replace(
        trained_stdc_pointrend,
        eval=replace(trained_stdc_pointrend.eval, compare_without_subdivision=True),
    )
    results = evaluate(recipe)
    assert set(results) == {"subdivision_steps=3", "subdivision_steps=0"}
    predict(
        trained_stdc_pointrend,
        f"{recipe.data.root}/leftImg8bit/val",
        output=str(tmp_path),
        save_points=True,
    )
    assert len(list((tmp_path / "points").rglob("*.*"))) == 2
