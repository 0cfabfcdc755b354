"""Recipes: one training/evaluation setup as nested dataclasses, and their overrides.

A recipe file builds a `Recipe` in plain Python and hands it to `pointrend.app.cli.run_cli`:

    python -m recipes.semfpn_pointrend_cityscapes train --optim.lr=0.02 --data.root=/data/cityscapes
    python -m recipes.semfpn_pointrend_cityscapes show --schedule.iters=40000

Every `--section.field=value` flag overrides one field; an unknown field or a value of the wrong
type stops with an error that lists the valid fields.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# PaddleSeg's default Normalize, (pixel / 255 - 0.5) / 0.5, which its Cityscapes STDC-Seg configs
# use.
PADDLESEG_MEAN = (0.5, 0.5, 0.5)
PADDLESEG_STD = (0.5, 0.5, 0.5)
ARCHITECTURES = ("semantic_fpn", "stdc")


@dataclass
class ModelConfig:
    """The network; the defaults are the paper's model.

    `arch` picks the family: "semantic_fpn" (ResNet + FPN + Semantic FPN head, the keyword
    arguments of `pointrend.models.build_model`) or "stdc" (STDC-Seg on `stdc_variant` "stdc1" or
    "stdc2", `pointrend.models.build_stdc_network`; the ResNet/FPN fields do not apply to it).
    `point_head` adds PointRend to either; on STDC the point head reads the backbone map at
    `fine_feature_stride` (8 or 4) beside the stride-8 coarse logits.
    """

    arch: str = "semantic_fpn"
    stdc_variant: str = "stdc2"
    fine_feature_stride: int = 8
    backbone_depth: int = 101
    backbone_stem: str = "classic"
    backbone_base_channels: int = 64
    norm: str = "bn"
    output_stride: int = 32
    frozen_stages: int = -1
    pretrained: str | None = None
    fpn_channels: int = 256
    head_channels: int = 128
    head_norm: str = "gn"
    num_classes: int = 19
    point_head: bool = True
    point_head_fc_channels: int = 256
    point_head_num_fc: int = 3
    coarse_pred_each_layer: bool = False
    train_num_points: int = 2048
    oversample_ratio: float = 3.0
    importance_ratio: float = 0.75
    subdivision_steps: int = 2
    subdivision_num_points: int = 8192
    # PaddleSeg's PointRend layout (pointrend.models.PADDLESEG_LAYOUT sets these and the above).
    backbone_project_first_block: bool = False
    fpn_layout: str = "paper"
    point_head_init: str = "paper"
    cell_coords: str = "centre"
    size_divisor: int = 32


@dataclass
class DataConfig:
    """Dataset location and the keyword arguments of the train/val transforms.

    batch_size is the global batch of one optimizer update, whatever the number of devices.
    on_bad_sample: what an image or label that cannot be read during a run does: "error" stops
    with one line naming the file, "skip" leaves it out, counts it and lists it at the end (and
    in output_dir/bad_samples.json).
    """

    root: str = "data/cityscapes"
    train_split: str = "train"
    val_split: str = "val"
    train_list: str | None = None
    val_list: str | None = None
    list_separator: str = ","
    batch_size: int = 8
    num_workers: int = 4
    crop_size: tuple[int, int] | None = (512, 1024)
    scale_range: tuple[float, float] | None = (0.5, 2.0)
    scale_step: float = 0.0
    cat_max_ratio: float = 0.75
    crop_tries: int = 10
    flip_prob: float = 0.5
    photometric: bool = True
    brightness: float = 0.25
    contrast: float = 0.5
    saturation: float = 0.5
    hue: float = 0.1
    photometric_prob: float = 0.5
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    to_rgb: bool = True
    max_pixel_value: float = 255.0
    ignore_index: int = 255
    on_bad_sample: str = "error"


@dataclass
class LossConfig:
    """Loss weights. PointRend: cross-entropy on the coarse logits and at the points. STDC
    (model.arch="stdc"): OHEM cross-entropy on the main logits (coarse_weight) and on both
    auxiliary heads (aux_weight each), the detail loss (detail_weight), and with a point head the
    point cross-entropy (point_weight)."""

    coarse_weight: float = 1.0
    point_weight: float = 1.0
    aux_weight: float = 1.0
    detail_weight: float = 1.0
    ohem_thresh: float = 0.7
    ohem_min_kept: int = 10000


@dataclass
class OptimConfig:
    """SGD with momentum; L2 weight decay, by default not on norm parameters and biases."""

    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    decay_norm_and_bias: bool = False
    grad_clip_norm: float | None = None
    accumulate_steps: int = 1


@dataclass
class ScheduleConfig:
    """Poly LR after a linear warm-up; all counts are optimizer updates (iterations).

    An interval of 0 means: only at the end of the schedule.
    """

    iters: int = 80000
    warmup_iters: int = 1000
    warmup_start_factor: float = 0.001
    power: float = 0.9
    min_lr: float = 0.0
    eval_interval: int = 8000
    checkpoint_interval: int = 8000
    log_interval: int = 50


@dataclass
class AmpConfig:
    """Mixed precision on GPU (ignored with a warning on CPU)."""

    enabled: bool = False
    level: str = "O1"
    dtype: str = "float16"


@dataclass
class EmaConfig:
    enabled: bool = False
    decay: float = 0.9999
    warmup_iters: int = 2000


@dataclass
class CheckpointConfig:
    keep_last: int = 3
    best_metric: str | None = "mIoU"


@dataclass
class TensorBoardConfig:
    enabled: bool = True
    num_images: int = 4


@dataclass
class DivergenceConfig:
    """Finite divergence: the loss explodes and stays far above its early level (a dead
    network that trains on without a NaN). Reported once the median total loss of the last
    `window` iterations exceeds `factor` x the median of the run's first `baseline_iters`
    iterations; with `stop`, training then ends and "latest" moves back to the newest
    checkpoint from before the loss first crossed that level."""

    enabled: bool = True
    baseline_iters: int = 20
    window: int = 20
    factor: float = 5.0
    stop: bool = True


@dataclass
class CallbacksConfig:
    evaluation: bool = True
    amp: AmpConfig = field(default_factory=AmpConfig)
    ema: EmaConfig = field(default_factory=EmaConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    tensorboard: TensorBoardConfig = field(default_factory=TensorBoardConfig)
    divergence: DivergenceConfig = field(default_factory=DivergenceConfig)


@dataclass
class EvalConfig:
    """Inference settings for periodic and stand-alone evaluation (`evaluate_dataset`).

    `average`: how the views (scales x flips, slide windows) are combined, "probabilities"
    (their softmax averaged) or "logits" (their raw logits averaged, PaddleSeg 2.8's way).
    """

    mode: str = "whole"
    scales: tuple[float, ...] = (1.0,)
    flip: bool = False
    average: str = "probabilities"
    crop: tuple[int, int] | None = None
    stride: tuple[int, int] | None = None
    boundary_width: int = 3
    compare_without_subdivision: bool = False
    num_workers: int = 2


@dataclass
class Recipe:
    name: str
    output_dir: str
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    callbacks: CallbacksConfig = field(default_factory=CallbacksConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    seed: int = 0
    device: str = "auto"
    threads: int = 0


class RecipeError(ValueError):
    """A recipe field is unknown, has the wrong type or a value that cannot work.

    `fields`: the dotted field paths the message names, so that a command line can show them as
    its flags.
    """

    def __init__(self, message: str, fields: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.fields = tuple(fields)


# Overrides ------------------------------------------------------------------------------------


def _field_types(config: Any) -> dict[str, Any]:
    return typing.get_type_hints(type(config))


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) is not None:
        return str(annotation).replace("typing.", "")
    return getattr(annotation, "__name__", str(annotation))


def _coerce(value: Any, annotation: Any, path: str) -> Any:
    """`value` (as parsed by fire) converted to the field's type, or RecipeError."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(value, inner, path)
    problem = f"{path} expects {_type_name(annotation)}, got {value!r} ({type(value).__name__})"
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise RecipeError(problem + "; write a tuple like '[1,2]' or '(1,2)'", fields=(path,))
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], path) for v in value)
        if len(value) != len(args):
            raise RecipeError(f"{problem}: {len(args)} values are needed", fields=(path,))
        return tuple(_coerce(v, a, path) for v, a in zip(value, args, strict=True))
    if annotation is bool:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise RecipeError(problem, fields=(path,))
        return value
    if isinstance(value, bool):
        raise RecipeError(problem, fields=(path,))
    if annotation is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, int):
            raise RecipeError(problem, fields=(path,))
        return value
    if annotation is float:
        if not isinstance(value, (int, float)):
            raise RecipeError(problem, fields=(path,))
        return float(value)
    if annotation is str:
        # fire turns `--data.root=2024` into an int; a path or name made of digits is still text.
        if not isinstance(value, (str, int, float)):
            raise RecipeError(problem, fields=(path,))
        return str(value)
    raise RecipeError(
        f"{path} has type {_type_name(annotation)}, which cannot be set from the command line",
        fields=(path,),
    )


def valid_fields(config: Any, prefix: str = "") -> list[str]:
    """Every settable dotted field path of a recipe (or section)."""
    paths = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            paths += valid_fields(value, f"{prefix}{f.name}.")
        else:
            paths.append(f"{prefix}{f.name}")
    return paths


def _unknown_field(recipe: Recipe, path: str, section: Any, section_path: str) -> RecipeError:
    candidates = valid_fields(recipe)
    close = difflib.get_close_matches(path, candidates, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    where = f"section '{section_path}'" if section_path else "the recipe"
    names = ", ".join(f.name for f in dataclasses.fields(section))
    return RecipeError(
        f"unknown recipe field {path}.{hint} Fields of {where}: {names}. "
        f"`show` prints the whole recipe.",
        fields=(path, *close),
    )


def apply_overrides(recipe: Recipe, overrides: dict[str, Any]) -> Recipe:
    """A copy of `recipe` with {"optim.lr": 0.02, ...} applied, each value type-checked."""
    recipe = copy.deepcopy(recipe)
    for path, value in overrides.items():
        *sections, name = path.split(".")
        # Any section of the recipe: the walk below checks each step is a dataclass.
        config: Any = recipe
        walked: list[str] = []
        for section in sections:
            child = getattr(config, section, None) if dataclasses.is_dataclass(config) else None
            if not dataclasses.is_dataclass(child):
                raise _unknown_field(recipe, path, config, ".".join(walked))
            config, walked = child, walked + [section]
        types_by_name = _field_types(config)
        if name not in types_by_name:
            raise _unknown_field(recipe, path, config, ".".join(walked))
        if dataclasses.is_dataclass(getattr(config, name)):
            paths = [f"{path}.{f.name}" for f in dataclasses.fields(getattr(config, name))]
            raise RecipeError(
                f"{path} is a section; set its fields instead: {', '.join(paths)}",
                fields=(path, *paths),
            )
        setattr(config, name, _coerce(value, types_by_name[name], path))
    return recipe


def recipe_to_dict(recipe: Recipe) -> dict:
    """JSON-compatible nested dict (tuples become lists), as stored in checkpoints."""
    return json.loads(json.dumps(dataclasses.asdict(recipe)))


def format_recipe(recipe: Recipe) -> str:
    lines: list[str] = []

    def walk(config: Any, indent: str) -> None:
        for f in dataclasses.fields(config):
            value = getattr(config, f.name)
            if dataclasses.is_dataclass(value):
                lines.append(f"{indent}{f.name}:")
                walk(value, indent + "  ")
            else:
                lines.append(f"{indent}{f.name}: {value!r}")

    walk(recipe, "")
    return "\n".join(lines)
