"""validate(recipe): every field or combination that would fail later is refused up front, in one
line naming the field (the command line shows it as its flag), before any dataset, network or
download."""

import dataclasses
import inspect

import pytest

from pointrend.app import build
from pointrend.app.cli import RecipeCommands, run_cli
from pointrend.app.errors import describe
from pointrend.app.runtime import DEVICES, Runtime
from pointrend.config import validate as rules
from pointrend.config.recipe import Recipe, RecipeError, apply_overrides
from pointrend.config.validate import validate
from pointrend.data.sample_errors import ON_BAD_SAMPLE
from pointrend.inference.modes import AVERAGES, MODES
from pointrend.models.builder import FPN_LAYOUTS, PADDLESEG_LAYOUT
from pointrend.models.norm import NORMS
from pointrend.models.point_head import POINT_HEAD_INITS
from pointrend.models.resnet import DILATED_STAGES, STAGE_BLOCKS, STEMS
from pointrend.models.segmentor import PointRendSegmentor
from pointrend.models.semantic_fpn_head import HEAD_NORMS
from pointrend.models.stdc import STDC_STAGE_BLOCKS
from pointrend.models.stdc_pointrend import FINE_FEATURE_STRIDES
from pointrend.ops import CELL_COORDS
from pointrend.train.amp import AMP_DTYPES, AMP_LEVELS
from recipes.demo_synthetic import RECIPE as DEMO
from recipes.semfpn_cityscapes import RECIPE as BASELINE
from recipes.semfpn_pointrend_cityscapes import RECIPE as POINTREND
from recipes.stdc1_seg_cityscapes import RECIPE as STDC1
from recipes.stdc2_pointrend_cityscapes import RECIPE as STDC2_POINTREND
from recipes.stdc2_seg_cityscapes import RECIPE as STDC2


def test_the_shipped_recipes_are_valid():
    for recipe in (DEMO, BASELINE, POINTREND, STDC1, STDC2, STDC2_POINTREND):
        validate(recipe)
        validate(recipe, processes=1)


def test_the_allowed_choices_are_those_of_the_layers_that_use_them():
    assert set(rules.RESNET_DEPTHS) == set(STAGE_BLOCKS)
    assert set(rules.RESNET_STEMS) == set(STEMS)
    assert set(rules.OUTPUT_STRIDES) == set(DILATED_STAGES)
    assert set(rules.NORMS) == set(NORMS)
    assert set(rules.HEAD_NORMS) == set(HEAD_NORMS)
    assert set(rules.STDC_VARIANTS) == set(STDC_STAGE_BLOCKS)
    assert set(rules.STDC_FINE_FEATURE_STRIDES) == set(FINE_FEATURE_STRIDES)
    assert set(rules.FPN_LAYOUTS) == set(FPN_LAYOUTS)
    assert rules.PADDLESEG_HEAD_NORM == PADDLESEG_LAYOUT["head_norm"]
    assert set(rules.POINT_HEAD_INITS) == set(POINT_HEAD_INITS)
    assert set(rules.CELL_COORDS) == set(CELL_COORDS)
    assert set(rules.AMP_LEVELS) == set(AMP_LEVELS) and set(rules.AMP_DTYPES) == set(AMP_DTYPES)
    assert set(rules.EVAL_MODES) == set(MODES)
    assert set(rules.EVAL_AVERAGES) == set(AVERAGES)
    assert set(rules.DEVICES) == set(DEVICES)
    assert set(rules.ON_BAD_SAMPLE) == set(ON_BAD_SAMPLE)
    default_divisor = inspect.signature(PointRendSegmentor).parameters["size_divisor"].default
    assert rules.SIZE_DIVISOR == default_divisor


BAD_SETTINGS = [
    ({"eval.average": "votes"}, "--eval.average must be one of 'probabilities', 'logits'"),
    ({"data.on_bad_sample": "ignore"}, "--data.on_bad_sample must be one of 'error', 'skip'"),
    ({"eval.mode": "slide"}, "--eval.mode=slide needs --eval.crop"),
    (
        {"eval.mode": "slide", "eval.crop": (512, 512), "eval.stride": (600, 512)},
        "--eval.stride=(600, 512) must not exceed --eval.crop",
    ),
    ({"eval.mode": "sliding"}, "--eval.mode must be one of 'whole', 'slide'"),
    ({"data.batch_size": 0}, "--data.batch_size must be > 0, got 0"),
    ({"data.batch_size": -4}, "--data.batch_size must be > 0, got -4"),
    ({"data.crop_size": None}, "--data.crop_size must be (height, width)"),
    ({"data.crop_size": (500, 1000)}, "--data.crop_size must be a multiple of 32"),
    ({"data.crop_size": (0, 64)}, "--data.crop_size must be a crop (height, width) of positive"),
    ({"optim.lr": -0.01}, "--optim.lr must be > 0"),
    ({"optim.lr": 0.0}, "--optim.lr must be > 0"),
    ({"model.backbone_depth": 19}, "--model.backbone_depth must be one of 18, 34, 50, 101, got 19"),
    ({"data.num_workers": -1}, "--data.num_workers must be >= 0, got -1"),
    ({"eval.num_workers": -1}, "--eval.num_workers must be >= 0, got -1"),
    ({"model.train_num_points": 0}, "--model.train_num_points must be > 0, got 0"),
    ({"eval.scales": ()}, "--eval.scales must be a non-empty tuple of positive numbers"),
    ({"eval.scales": (1.0, -0.5)}, "--eval.scales must be a non-empty tuple of positive numbers"),
    ({"eval.boundary_width": 0}, "--eval.boundary_width must be > 0, got 0"),
    ({"schedule.checkpoint_interval": -1}, "--schedule.checkpoint_interval must be >= 0"),
    ({"schedule.eval_interval": -8000}, "--schedule.eval_interval must be >= 0"),
    ({"threads": -1}, "--threads must be >= 0, got -1"),
    ({"data.std": (0.229, 0.0, 0.225)}, "--data.std must be three positive numbers"),
    ({"schedule.iters": 1000}, "--schedule.warmup_iters=1000 must be below --schedule.iters=1000"),
    ({"schedule.iters": 0}, "--schedule.iters must be > 0"),
    (
        {"data.batch_size": 6, "optim.accumulate_steps": 4},
        "--data.batch_size=6 is not divisible by --optim.accumulate_steps=4",
    ),
    (
        {
            "callbacks.amp.enabled": True,
            "callbacks.amp.level": "O2",
            "callbacks.amp.dtype": "bfloat16",
        },
        "--callbacks.amp.level=O2 with --callbacks.amp.dtype=bfloat16 is not supported",
    ),
    ({"callbacks.amp.level": "O3"}, "--callbacks.amp.level must be one of 'O1', 'O2'"),
    ({"callbacks.amp.dtype": "fp16"}, "--callbacks.amp.dtype must be one of"),
    ({"callbacks.ema.decay": 1.0}, "--callbacks.ema.decay must be in (0, 1), got 1.0"),
    ({"callbacks.checkpoint.keep_last": 0}, "--callbacks.checkpoint.keep_last must be > 0"),
    (
        {"callbacks.checkpoint.best_metric": "miou"},
        "--callbacks.checkpoint.best_metric must be one of",
    ),
    ({"model.num_classes": 0}, "--model.num_classes must be > 0"),
    ({"model.num_classes": 300}, "--data.ignore_index=255 is a class index"),
    ({"model.norm": "gn"}, "--model.norm must be one of 'bn', 'syncbn', 'frozen_bn'"),
    ({"model.head_norm": "ln"}, "--model.head_norm must be one of"),
    ({"model.fpn_layout": "mmseg"}, "--model.fpn_layout must be one of 'paper', 'paddleseg'"),
    (
        {"model.fpn_layout": "paddleseg"},
        "--model.fpn_layout=paddleseg needs --model.head_norm=none",
    ),
    ({"model.cell_coords": "corner"}, "--model.cell_coords must be one of 'centre', 'steps'"),
    ({"model.point_head_init": "zeros"}, "--model.point_head_init must be one of"),
    ({"model.size_divisor": 0}, "--model.size_divisor must be > 0"),
    ({"model.output_stride": 4}, "--model.output_stride must be one of"),
    ({"model.frozen_stages": 5}, "--model.frozen_stages must be in [-1, 4]"),
    ({"model.importance_ratio": 1.5}, "--model.importance_ratio must be in [0.0, 1.0]"),
    ({"model.oversample_ratio": 0.5}, "--model.oversample_ratio must be >= 1.0"),
    ({"model.subdivision_num_points": 0}, "--model.subdivision_num_points must be > 0"),
    (
        {"model.point_head": False, "eval.compare_without_subdivision": True},
        "--eval.compare_without_subdivision=True needs a model that subdivides",
    ),
    (
        {"data.scale_range": (2.0, 0.5)},
        "--data.scale_range must be (low, high) with 0 < low <= high",
    ),
    ({"data.flip_prob": 1.5}, "--data.flip_prob must be in [0.0, 1.0]"),
    ({"data.cat_max_ratio": 0.0}, "--data.cat_max_ratio must be in (0, 1]"),
    ({"data.root": ""}, "--data.root must be a non-empty string"),
    ({"optim.momentum": 1.0}, "--optim.momentum must be in [0, 1)"),
    ({"optim.weight_decay": -1e-4}, "--optim.weight_decay must be >= 0"),
    ({"optim.grad_clip_norm": 0.0}, "--optim.grad_clip_norm must be > 0"),
    ({"optim.accumulate_steps": 0}, "--optim.accumulate_steps must be > 0"),
    ({"schedule.min_lr": 0.1}, "--schedule.min_lr=0.1 must not exceed --optim.lr=0.01"),
    ({"loss.point_weight": -1.0}, "--loss.point_weight must be >= 0"),
    ({"device": "cuda"}, "--device must be one of 'auto', 'cpu', 'gpu'"),
    ({"model.arch": "bisenet"}, "--model.arch must be one of 'semantic_fpn', 'stdc'"),
    ({"model.arch": "stdc", "model.stdc_variant": "stdc3"}, "--model.stdc_variant must be one of"),
    (
        {"model.arch": "stdc", "model.fine_feature_stride": 16},
        "--model.fine_feature_stride must be one of 4, 8, got 16",
    ),
    (
        {"model.arch": "stdc", "model.norm": "frozen_bn"},
        "--model.norm='frozen_bn' is not available",
    ),
    ({"data.brightness": 1.5}, "--data.brightness must be in [0.0, 1.0]"),
    ({"data.hue": 0.6}, "--data.hue must be in [0.0, 0.5]"),
    ({"data.photometric_prob": -0.1}, "--data.photometric_prob must be in [0.0, 1.0]"),
    ({"loss.detail_weight": -1.0}, "--loss.detail_weight must be >= 0"),
    ({"loss.aux_weight": -1.0}, "--loss.aux_weight must be >= 0"),
    ({"loss.ohem_thresh": 1.5}, "--loss.ohem_thresh must be in [0.0, 1.0]"),
    ({"loss.ohem_min_kept": -1}, "--loss.ohem_min_kept must be >= 0"),
    ({"seed": -1}, "--seed must be in [0, 4294967295]"),
    ({"callbacks.tensorboard.num_images": -1}, "--callbacks.tensorboard.num_images must be >= 0"),
]


@pytest.mark.parametrize("overrides, message", BAD_SETTINGS, ids=[str(o) for o, _ in BAD_SETTINGS])
def test_a_bad_setting_is_one_line_naming_its_flag(overrides, message):
    """`message` as the command line prints it; the config layer names the same fields by
    their dotted paths, without the flags' dashes."""
    recipe = apply_overrides(POINTREND, overrides)
    with pytest.raises(RecipeError) as error:
        validate(recipe)
    text = str(error.value)
    assert text.startswith(message.replace("--", "")) and "\n" not in text, text
    assert describe(error.value).startswith(f"error: {message}"), describe(error.value)


def test_a_recipe_file_with_a_value_of_the_wrong_type_is_named():
    recipe = dataclasses.replace(
        POINTREND, data=dataclasses.replace(POINTREND.data, crop_size=[512, 1024])
    )
    with pytest.raises(
        RecipeError,
        match=r"^data.crop_size expects tuple\[int, int\] \| None, "
        r"got \[512, 1024\] \(list\)$",
    ):
        validate(recipe)


def test_the_batch_must_split_over_the_training_processes():
    validate(POINTREND, processes=4)
    with pytest.raises(
        RecipeError, match=r"^data.batch_size=8 is not divisible by 3 processes x"
    ) as error:
        validate(POINTREND, processes=3)
    assert describe(error.value).startswith(
        "error: --data.batch_size=8 is not divisible by 3 processes x --optim.accumulate_steps"
    )


@pytest.mark.parametrize("command", ["train", "eval", "predict --input=x", "export"])
def test_every_command_validates_before_building_anything(command, tmp_path, monkeypatch, capsys):
    def must_not_run(*args, **kwargs):
        raise AssertionError("built something before validating the recipe")

    for name in ("build_dataset", "build_network", "build_trainer"):
        monkeypatch.setattr(build, name, must_not_run)
    monkeypatch.setattr("pointrend.app.commands.build_dataset", must_not_run)
    monkeypatch.setattr("pointrend.app.commands.build_network", must_not_run)
    monkeypatch.setattr("pointrend.app.commands.build_trainer", must_not_run)
    recipe = Recipe(name="t", output_dir=str(tmp_path / "out"))
    with pytest.raises(SystemExit) as exit_info:
        run_cli(RecipeCommands(recipe), argv=[*command.split(), "--eval.mode=slide"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --eval.mode=slide needs --eval.crop") and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_class_count_that_differs_from_the_dataset_is_refused_before_the_network(
    tmp_path, monkeypatch
):
    class NineteenClasses:
        num_classes = 19

    def must_not_run(*args, **kwargs):
        raise AssertionError("built the network before checking the classes")

    monkeypatch.setattr(build, "build_dataset", lambda data, train: NineteenClasses())
    monkeypatch.setattr(build, "build_network", must_not_run)
    recipe = apply_overrides(Recipe(name="t", output_dir=str(tmp_path)), {"model.num_classes": 5})
    with pytest.raises(
        RecipeError,
        match=r"^--model.num_classes=5 but the dataset at --data.root="
        r"data/cityscapes has 19 classes; set --model.num_classes=19$",
    ):
        build.build_trainer(recipe, Runtime(device="cpu", rank=0, world_size=1))
