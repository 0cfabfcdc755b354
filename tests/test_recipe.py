"""Recipe dataclasses, command-line overrides and the shipped recipes."""

import dataclasses
import inspect
import pickle

import numpy as np
import paddle
import pytest
from test_pretrained_msra import msra_blobs

from pointrend.app.build import NOT_SEMANTIC_FPN_FIELDS, build_network
from pointrend.app.cli import RecipeCommands, run_cli
from pointrend.app.errors import describe
from pointrend.config.recipe import (
    ModelConfig,
    Recipe,
    RecipeError,
    apply_overrides,
    format_recipe,
    recipe_to_dict,
    valid_fields,
)
from pointrend.models import ResNet, build_model
from pointrend.models.pretrained import MSRA_PIXEL_MEAN, MSRA_PIXEL_STD, MSRA_RESNET_URLS
from pointrend.utils.nested import leaf_differences
from recipes.demo_synthetic import RECIPE as DEMO
from recipes.semfpn_cityscapes import RECIPE as BASELINE
from recipes.semfpn_pointrend_cityscapes import RECIPE as POINTREND


def make_recipe() -> Recipe:
    return Recipe(name="t", output_dir="out")


def test_overrides_convert_fire_values_to_field_types():
    recipe = apply_overrides(
        make_recipe(),
        {
            "optim.lr": 1,  # int for a float field
            "schedule.iters": 4e4,  # integral float for an int field
            "data.root": 2024,  # fire parses digit-only paths as numbers
            "data.crop_size": [64, 128],
            "eval.scales": [0.75, 1.0, 1.25],
            "eval.crop": None,
            "callbacks.ema.enabled": "true",
            "model.pretrained": "/weights/r101.pdparams",
        },
    )
    assert recipe.optim.lr == 1.0 and isinstance(recipe.optim.lr, float)
    assert recipe.schedule.iters == 40000 and isinstance(recipe.schedule.iters, int)
    assert recipe.data.root == "2024"
    assert recipe.data.crop_size == (64, 128)
    assert recipe.eval.scales == (0.75, 1.0, 1.25)
    assert recipe.eval.crop is None
    assert recipe.callbacks.ema.enabled is True
    assert recipe.model.pretrained == "/weights/r101.pdparams"


def test_overrides_leave_the_original_recipe_untouched():
    original = make_recipe()
    apply_overrides(original, {"optim.lr": 0.5, "callbacks.ema.decay": 0.5})
    assert original.optim.lr == 0.01 and original.callbacks.ema.decay == 0.9999


def test_unknown_field_lists_the_valid_fields_and_suggests_the_closest():
    with pytest.raises(RecipeError) as error:
        apply_overrides(make_recipe(), {"optim.lrr": 0.1})
    message = str(error.value)
    assert "field optim.lrr." in message and "Did you mean optim.lr?" in message
    assert "lr, momentum, weight_decay" in message
    flags = describe(error.value)
    assert "field --optim.lrr." in flags and "Did you mean --optim.lr?" in flags


def test_unknown_section_is_reported_against_the_recipe():
    with pytest.raises(RecipeError, match="Fields of the recipe: name, output_dir, model"):
        apply_overrides(make_recipe(), {"optimizer.lr": 0.1})


@pytest.mark.parametrize(
    "path, value, expected",
    [
        ("schedule.iters", "abc", "^schedule.iters expects int, got 'abc'"),
        ("schedule.iters", 1.5, "expects int"),
        ("optim.lr", True, "expects float"),
        ("data.crop_size", [1, 2, 3], "2 values are needed"),
        ("data.crop_size", 512, "write a tuple"),
        ("callbacks.ema.enabled", 3, "expects bool"),
        ("optim", 3, "is a section"),
    ],
)
def test_wrong_types_are_errors_naming_the_field(path, value, expected):
    with pytest.raises(RecipeError, match=expected):
        apply_overrides(make_recipe(), {path: value})


def test_show_prints_the_resolved_recipe(capsys):
    run_cli(
        RecipeCommands(make_recipe()), argv=["show", "--optim.lr=0.02", "--data.crop_size=[64,128]"]
    )
    printed = capsys.readouterr().out
    assert "lr: 0.02" in printed and "crop_size: (64, 128)" in printed
    assert printed.strip() == format_recipe(
        apply_overrides(make_recipe(), {"optim.lr": 0.02, "data.crop_size": (64, 128)})
    )


def test_cli_bad_override_exits_with_one_clear_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(RecipeCommands(make_recipe()), argv=["show", "--schedule.itres=10"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unknown recipe field --schedule.itres") and "Traceback" not in err


def test_model_fields_are_exactly_build_model_arguments_and_the_architecture_choice():
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    assert fields - set(NOT_SEMANTIC_FPN_FIELDS) == set(inspect.signature(build_model).parameters)
    assert set(NOT_SEMANTIC_FPN_FIELDS) <= fields


def test_every_field_is_reachable_by_its_dotted_path():
    recipe = make_recipe()
    for path in valid_fields(recipe):
        section = recipe
        for part in path.split("."):
            section = getattr(section, part)
    assert "callbacks.ema.decay" in valid_fields(recipe)


def test_paper_recipe_matches_the_published_setup():
    model, data, schedule = POINTREND.model, POINTREND.data, POINTREND.schedule
    assert (model.backbone_depth, model.output_stride, model.fpn_channels) == (101, 32, 256)
    assert (model.train_num_points, model.oversample_ratio, model.importance_ratio) == (
        2048,
        3.0,
        0.75,
    )
    assert (model.subdivision_steps, model.subdivision_num_points) == (2, 8192)
    assert (model.point_head_num_fc, model.point_head_fc_channels) == (3, 256)
    assert data.crop_size == (512, 1024) and data.batch_size == 8
    assert (schedule.iters, schedule.warmup_iters, schedule.power) == (80000, 1000, 0.9)
    assert POINTREND.optim.lr == 0.01 and POINTREND.optim.weight_decay in (1e-4, 5e-4)


def test_baseline_differs_from_the_paper_recipe_only_by_the_point_head():
    differences = leaf_differences(recipe_to_dict(POINTREND), recipe_to_dict(BASELINE))
    assert sorted(d.split("=")[0] for d in differences) == [
        "model.point_head",
        "name",
        "output_dir",
    ]


def test_demo_subdivision_reaches_full_resolution():
    height, width = DEMO.data.crop_size
    coarse_cells = (height // 4) * (width // 4)
    assert coarse_cells * 4**DEMO.model.subdivision_steps == height * width


def test_paper_recipe_starts_from_detectron2s_msra_r101_in_its_normalisation(tmp_path):
    """The default cannot be downloaded here: a narrow R-101 in the same Caffe2 format instead."""
    assert POINTREND.model.pretrained == MSRA_RESNET_URLS[101]
    data = POINTREND.data
    assert (tuple(data.mean), tuple(data.std), data.to_rgb, data.max_pixel_value) == (
        MSRA_PIXEL_MEAN,
        MSRA_PIXEL_STD,
        False,
        1.0,
    )
    paddle.seed(5)
    source = ResNet(101, stem="classic", norm="bn", base_channels=8).eval()
    path = tmp_path / "R-101.pkl"
    path.write_bytes(pickle.dumps(msra_blobs(source), protocol=2))
    narrow = dataclasses.replace(
        POINTREND.model,
        pretrained=str(path),
        backbone_base_channels=8,
        fpn_channels=16,
        head_channels=8,
        point_head_fc_channels=16,
    )
    network = build_network(narrow)
    np.testing.assert_array_equal(
        network.backbone.res4[22].conv2.weight.numpy(), source.res4[22].conv2.weight.numpy()
    )
