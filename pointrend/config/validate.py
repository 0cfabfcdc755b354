"""`validate(recipe)`: every field and every combination of fields that would fail later, checked
before anything is built, loaded or downloaded.

Each problem is one line naming the field by its dotted path (`section.field`, listed in the
error's `fields` so that the command line can show them as its flags), the value and what to
choose instead, like the errors of the overrides. The allowed choices below
are those of the layers that use them (models, train, inference, app); a test keeps the two in
step, since this layer imports nothing else from pointrend.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from pointrend.config.recipe import ARCHITECTURES, Recipe, RecipeError, _type_name

RESNET_DEPTHS = (18, 34, 50, 101)
RESNET_STEMS = ("classic", "deep", "vd")
OUTPUT_STRIDES = (8, 16, 32)
MAX_FROZEN_STAGES = 4
NORMS = ("bn", "syncbn", "frozen_bn")
HEAD_NORMS = ("gn", "bn")
STDC_VARIANTS = ("stdc1", "stdc2")
# Backbone strides the STDC point head can read (models.stdc_pointrend.FINE_FEATURE_STRIDES).
STDC_FINE_FEATURE_STRIDES = (4, 8)
FPN_LAYOUTS = ("paper", "paddleseg")
# PaddleSeg's FPN head has no norm layers: with its layout head_norm is this.
PADDLESEG_HEAD_NORM = "none"
POINT_HEAD_INITS = ("paper", "paddleseg")
CELL_COORDS = ("centre", "steps")
# The network halves the input five times: training crops must divide evenly.
SIZE_DIVISOR = 32
AMP_LEVELS = ("O1", "O2")
AMP_DTYPES = ("float16", "bfloat16")
EVAL_MODES = ("whole", "slide")
EVAL_AVERAGES = ("probabilities", "logits")
DEVICES = ("auto", "cpu", "gpu")
ON_BAD_SAMPLE = ("error", "skip")
# Scalar results of an evaluation that can select the best checkpoint (higher is better).
BEST_METRICS = ("mIoU", "boundary_mIoU", "pixel_accuracy")


def _fail(path: str, requirement: str, value: Any) -> RecipeError:
    return RecipeError(f"{path} must be {requirement}, got {value!r}", fields=(path,))


# Types ----------------------------------------------------------------------------------------


def _matches(value: Any, annotation: Any) -> bool:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in args)
    if annotation is type(None):
        return value is None
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(item, args[0]) for item in value)
        return len(value) == len(args) and all(map(_matches, value, args))
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)


def _check_types(config: Any, prefix: str = "") -> None:
    """Every field holds a value of its declared type (a recipe file is plain Python)."""
    hints = typing.get_type_hints(type(config))
    for field in dataclasses.fields(config):
        value, path = getattr(config, field.name), f"{prefix}{field.name}"
        if dataclasses.is_dataclass(value):
            _check_types(value, f"{path}.")
        elif not _matches(value, hints[field.name]):
            raise RecipeError(
                f"{path} expects {_type_name(hints[field.name])}, "
                f"got {value!r} ({type(value).__name__})",
                fields=(path,),
            )


# Helpers --------------------------------------------------------------------------------------


def _choice(path: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        raise _fail(path, f"one of {', '.join(map(repr, choices))}", value)


def _at_least(path: str, value: float, minimum: float) -> None:
    if value < minimum:
        raise _fail(path, f">= {minimum}", value)


def _positive(path: str, value: float) -> None:
    if value <= 0:
        raise _fail(path, "> 0", value)


def _within(path: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise _fail(path, f"in [{low}, {high}]", value)


def _positive_pair(path: str, value: tuple[int, int] | None, what: str) -> None:
    if value is not None and min(value) <= 0:
        raise _fail(path, f"a {what} (height, width) of positive sizes", value)


# Sections -------------------------------------------------------------------------------------


def _check_model(recipe: Recipe) -> None:
    model = recipe.model
    _choice("model.arch", model.arch, ARCHITECTURES)
    if model.arch == "stdc":
        _choice("model.stdc_variant", model.stdc_variant, STDC_VARIANTS)
        _choice("model.fine_feature_stride", model.fine_feature_stride, STDC_FINE_FEATURE_STRIDES)
        if model.norm != "bn":
            raise RecipeError(
                f"model.norm={model.norm!r} is not available for model.arch=stdc: STDC-Seg "
                "uses BatchNorm (SyncBatchNorm automatically on several GPUs); set model.norm=bn",
                fields=("model.norm", "model.arch"),
            )
    _choice("model.backbone_depth", model.backbone_depth, RESNET_DEPTHS)
    _choice("model.backbone_stem", model.backbone_stem, RESNET_STEMS)
    _positive("model.backbone_base_channels", model.backbone_base_channels)
    _choice("model.norm", model.norm, NORMS)
    _choice("model.output_stride", model.output_stride, OUTPUT_STRIDES)
    _within("model.frozen_stages", model.frozen_stages, -1, MAX_FROZEN_STAGES)
    if model.pretrained is not None and not model.pretrained.strip():
        raise _fail("model.pretrained", "a .pdparams path or URL, or None", model.pretrained)
    _positive("model.fpn_channels", model.fpn_channels)
    _positive("model.head_channels", model.head_channels)
    _choice("model.fpn_layout", model.fpn_layout, FPN_LAYOUTS)
    if model.fpn_layout == "paddleseg" and model.head_norm != PADDLESEG_HEAD_NORM:
        raise RecipeError(
            f"model.fpn_layout=paddleseg needs model.head_norm={PADDLESEG_HEAD_NORM} "
            f"(PaddleSeg's FPN head has no norm), got {model.head_norm!r}",
            fields=("model.fpn_layout", "model.head_norm"),
        )
    if model.fpn_layout != "paddleseg":
        _choice("model.head_norm", model.head_norm, HEAD_NORMS)
    _choice("model.point_head_init", model.point_head_init, POINT_HEAD_INITS)
    _choice("model.cell_coords", model.cell_coords, CELL_COORDS)
    _positive("model.size_divisor", model.size_divisor)
    _positive("model.num_classes", model.num_classes)
    _positive("model.point_head_fc_channels", model.point_head_fc_channels)
    _at_least("model.point_head_num_fc", model.point_head_num_fc, 0)
    _positive("model.train_num_points", model.train_num_points)
    _at_least("model.oversample_ratio", model.oversample_ratio, 1.0)
    _within("model.importance_ratio", model.importance_ratio, 0.0, 1.0)
    _at_least("model.subdivision_steps", model.subdivision_steps, 0)
    _positive("model.subdivision_num_points", model.subdivision_num_points)


def _check_data(recipe: Recipe) -> None:
    data = recipe.data
    for name in ("root", "train_split", "val_split", "list_separator"):
        if not getattr(data, name):
            raise _fail(f"data.{name}", "a non-empty string", getattr(data, name))
    _positive("data.batch_size", data.batch_size)
    _at_least("data.num_workers", data.num_workers, 0)
    _choice("data.on_bad_sample", data.on_bad_sample, ON_BAD_SAMPLE)
    if data.crop_size is None:
        raise RecipeError(
            "data.crop_size must be (height, width): the images of a training batch "
            "need one size, got None",
            fields=("data.crop_size",),
        )
    _positive_pair("data.crop_size", data.crop_size, "crop")
    if any(size % SIZE_DIVISOR for size in data.crop_size):
        raise _fail(
            "data.crop_size", f"a multiple of {SIZE_DIVISOR} in height and width", data.crop_size
        )
    if data.scale_range is not None:
        low, high = data.scale_range
        if not 0 < low <= high:
            raise _fail(
                "data.scale_range", "(low, high) with 0 < low <= high, or None", data.scale_range
            )
    _at_least("data.scale_step", data.scale_step, 0.0)
    if not 0 < data.cat_max_ratio <= 1:
        raise _fail("data.cat_max_ratio", "in (0, 1]", data.cat_max_ratio)
    _positive("data.crop_tries", data.crop_tries)
    _within("data.flip_prob", data.flip_prob, 0.0, 1.0)
    for name in ("brightness", "contrast", "saturation"):
        _within(f"data.{name}", getattr(data, name), 0.0, 1.0)
    # ColorJitter shifts the hue by at most half a turn either way.
    _within("data.hue", data.hue, 0.0, 0.5)
    _within("data.photometric_prob", data.photometric_prob, 0.0, 1.0)
    if min(data.std) <= 0:
        raise _fail("data.std", "three positive numbers (images are divided by them)", data.std)
    _positive("data.max_pixel_value", data.max_pixel_value)
    if 0 <= data.ignore_index < recipe.model.num_classes:
        raise RecipeError(
            f"data.ignore_index={data.ignore_index} is a class index of the "
            f"model.num_classes={recipe.model.num_classes} classes; pick a value outside "
            f"[0, {recipe.model.num_classes}), e.g. 255",
            fields=("data.ignore_index", "model.num_classes"),
        )


def _check_loss_and_optim(recipe: Recipe) -> None:
    loss, optim = recipe.loss, recipe.optim
    _at_least("loss.coarse_weight", loss.coarse_weight, 0.0)
    _at_least("loss.point_weight", loss.point_weight, 0.0)
    _at_least("loss.aux_weight", loss.aux_weight, 0.0)
    _at_least("loss.detail_weight", loss.detail_weight, 0.0)
    _within("loss.ohem_thresh", loss.ohem_thresh, 0.0, 1.0)
    _at_least("loss.ohem_min_kept", loss.ohem_min_kept, 0)
    _positive("optim.lr", optim.lr)
    if not 0 <= optim.momentum < 1:
        raise _fail("optim.momentum", "in [0, 1)", optim.momentum)
    _at_least("optim.weight_decay", optim.weight_decay, 0.0)
    if optim.grad_clip_norm is not None:
        _positive("optim.grad_clip_norm", optim.grad_clip_norm)
    _positive("optim.accumulate_steps", optim.accumulate_steps)
    if recipe.data.batch_size % optim.accumulate_steps:
        raise RecipeError(
            f"data.batch_size={recipe.data.batch_size} is not divisible by "
            f"optim.accumulate_steps={optim.accumulate_steps}; pick a multiple of it",
            fields=("data.batch_size", "optim.accumulate_steps"),
        )


def _check_schedule(recipe: Recipe) -> None:
    schedule = recipe.schedule
    _positive("schedule.iters", schedule.iters)
    _at_least("schedule.warmup_iters", schedule.warmup_iters, 0)
    if schedule.warmup_iters >= schedule.iters:
        raise RecipeError(
            f"schedule.warmup_iters={schedule.warmup_iters} must be below "
            f"schedule.iters={schedule.iters}",
            fields=("schedule.warmup_iters", "schedule.iters"),
        )
    _within("schedule.warmup_start_factor", schedule.warmup_start_factor, 0.0, 1.0)
    _at_least("schedule.power", schedule.power, 0.0)
    _at_least("schedule.min_lr", schedule.min_lr, 0.0)
    if schedule.min_lr > recipe.optim.lr:
        raise RecipeError(
            f"schedule.min_lr={schedule.min_lr} must not exceed optim.lr={recipe.optim.lr}",
            fields=("schedule.min_lr", "optim.lr"),
        )
    for name in ("eval_interval", "checkpoint_interval", "log_interval"):
        value = getattr(schedule, name)
        if value < 0:
            raise _fail(f"schedule.{name}", ">= 0 (0: only at the end of the schedule)", value)


def _check_callbacks(recipe: Recipe) -> None:
    callbacks = recipe.callbacks
    amp, ema = callbacks.amp, callbacks.ema
    _choice("callbacks.amp.level", amp.level, AMP_LEVELS)
    _choice("callbacks.amp.dtype", amp.dtype, AMP_DTYPES)
    if amp.enabled and amp.level == "O2" and amp.dtype == "bfloat16":
        raise RecipeError(
            "callbacks.amp.level=O2 with callbacks.amp.dtype=bfloat16 is not "
            "supported by paddle.Model (it casts O2 models to float16); use O1 with "
            "bfloat16, or O2 with float16",
            fields=("callbacks.amp.level", "callbacks.amp.dtype"),
        )
    if not 0 < ema.decay < 1:
        raise _fail("callbacks.ema.decay", "in (0, 1)", ema.decay)
    _at_least("callbacks.ema.warmup_iters", ema.warmup_iters, 0)
    _positive("callbacks.checkpoint.keep_last", callbacks.checkpoint.keep_last)
    if callbacks.checkpoint.best_metric is not None:
        _choice("callbacks.checkpoint.best_metric", callbacks.checkpoint.best_metric, BEST_METRICS)
    _at_least("callbacks.tensorboard.num_images", callbacks.tensorboard.num_images, 0)
    divergence = callbacks.divergence
    _positive("callbacks.divergence.baseline_iters", divergence.baseline_iters)
    _positive("callbacks.divergence.window", divergence.window)
    if divergence.factor <= 1:
        raise _fail("callbacks.divergence.factor", "> 1 (times the early loss)", divergence.factor)


def _check_eval(recipe: Recipe) -> None:
    ev = recipe.eval
    _choice("eval.mode", ev.mode, EVAL_MODES)
    _choice("eval.average", ev.average, EVAL_AVERAGES)
    if not ev.scales or min(ev.scales) <= 0:
        raise _fail(
            "eval.scales",
            "a non-empty tuple of positive numbers, e.g. '[0.75,1.0,1.25]'",
            ev.scales,
        )
    _positive_pair("eval.crop", ev.crop, "window")
    _positive_pair("eval.stride", ev.stride, "window stride")
    if ev.mode == "slide":
        if ev.crop is None:
            raise RecipeError(
                "eval.mode=slide needs eval.crop=[height,width], the window size "
                "(e.g. the training data.crop_size)",
                fields=("eval.mode", "eval.crop", "data.crop_size"),
            )
        if ev.stride is not None and (ev.stride[0] > ev.crop[0] or ev.stride[1] > ev.crop[1]):
            raise RecipeError(
                f"eval.stride={ev.stride} must not exceed eval.crop={ev.crop}: "
                "the windows would leave gaps",
                fields=("eval.stride", "eval.crop"),
            )
    _positive("eval.boundary_width", ev.boundary_width)
    _at_least("eval.num_workers", ev.num_workers, 0)
    if ev.compare_without_subdivision and not (
        recipe.model.point_head and recipe.model.subdivision_steps > 0
    ):
        raise RecipeError(
            "eval.compare_without_subdivision=True needs a model that subdivides "
            "(model.point_head=True and model.subdivision_steps > 0)",
            fields=(
                "eval.compare_without_subdivision",
                "model.point_head",
                "model.subdivision_steps",
            ),
        )


def _check_run(recipe: Recipe) -> None:
    if not recipe.name:
        raise _fail("name", "a non-empty string", recipe.name)
    if not recipe.output_dir:
        raise _fail("output_dir", "a non-empty path", recipe.output_dir)
    _within("seed", recipe.seed, 0, 2**32 - 1)
    _choice("device", recipe.device, DEVICES)
    _at_least("threads", recipe.threads, 0)


def validate(recipe: Recipe, processes: int | None = None) -> None:
    """Raise RecipeError for the first field (or combination) that cannot work.

    `processes`: the number of training processes, when known; the global batch must split
    evenly over them and the accumulation steps.
    """
    _check_types(recipe)
    _check_run(recipe)
    _check_model(recipe)
    _check_data(recipe)
    _check_loss_and_optim(recipe)
    _check_schedule(recipe)
    _check_callbacks(recipe)
    _check_eval(recipe)
    if processes is not None:
        parts = processes * recipe.optim.accumulate_steps
        if recipe.data.batch_size % parts:
            raise RecipeError(
                f"data.batch_size={recipe.data.batch_size} is not divisible by {processes} "
                f"processes x optim.accumulate_steps={recipe.optim.accumulate_steps}; "
                f"pick a multiple of {parts}",
                fields=("data.batch_size", "optim.accumulate_steps"),
            )
