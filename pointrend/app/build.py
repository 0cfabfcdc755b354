"""Objects a recipe describes: network, loss, datasets, callbacks and the Trainer."""

from __future__ import annotations

import dataclasses
import os

import paddle

from pointrend.app.errors import DatasetError, as_flags
from pointrend.app.runtime import Runtime
from pointrend.config.recipe import (
    ARCHITECTURES,
    DataConfig,
    ModelConfig,
    Recipe,
    RecipeError,
    recipe_to_dict,
)
from pointrend.inference.modes import InferenceOptions
from pointrend.inference.normalization import Normalization
from pointrend.train.callbacks import (
    BestCheckpoint,
    ExponentialMovingAverage,
    PeriodicCheckpoint,
    PeriodicEvaluation,
    ProgressLogger,
    StopOnDivergence,
    TensorBoardLogger,
    TrainerCallback,
)
from pointrend.train.trainer import Trainer
from pointrend.utils.distributed import convert_to_sync_batchnorm, is_main_process

# ModelConfig fields that build_model (the Semantic FPN family) does not take.
NOT_SEMANTIC_FPN_FIELDS = ("arch", "stdc_variant", "fine_feature_stride")


def build_network(config: ModelConfig, load_pretrained: bool = True) -> paddle.nn.Layer:
    """The model, built under a fresh unique-name scope: its parameters (and so the optimizer
    state keys) get the same generated names in every process, which resuming relies on.
    `load_pretrained=False` skips the ImageNet download when a checkpoint replaces the weights."""
    with paddle.utils.unique_name.guard():
        if config.arch == "stdc":
            return _build_stdc(config, load_pretrained)
        if config.arch == "semantic_fpn":
            return _build_semantic_fpn(config, load_pretrained)
    raise RecipeError(f"model.arch must be one of {ARCHITECTURES}, got {config.arch!r}")


def semantic_fpn_arguments(config: ModelConfig) -> dict:
    """The keyword arguments of `build_model` (the Semantic FPN family) in `config`."""
    kwargs = dataclasses.asdict(config)
    for name in NOT_SEMANTIC_FPN_FIELDS:
        del kwargs[name]
    return kwargs


def _build_semantic_fpn(config: ModelConfig, load_pretrained: bool) -> paddle.nn.Layer:
    from pointrend.models import build_model

    kwargs = semantic_fpn_arguments(config)
    if not load_pretrained:
        kwargs["pretrained"] = None
    return build_model(**kwargs)


def _build_stdc(config: ModelConfig, load_pretrained: bool) -> paddle.nn.Layer:
    from pointrend.models import build_stdc_network

    return build_stdc_network(
        config.stdc_variant,
        config.num_classes,
        pretrained=config.pretrained if load_pretrained else None,
        point_head=config.point_head,
        fine_feature_stride=config.fine_feature_stride,
        point_head_fc_channels=config.point_head_fc_channels,
        point_head_num_fc=config.point_head_num_fc,
        coarse_pred_each_layer=config.coarse_pred_each_layer,
        train_num_points=config.train_num_points,
        oversample_ratio=config.oversample_ratio,
        importance_ratio=config.importance_ratio,
        subdivision_steps=config.subdivision_steps,
        subdivision_num_points=config.subdivision_num_points,
    )


def build_loss(recipe: Recipe):
    """The loss of the recipe's network: called as loss(*training_outputs, labels), it returns
    the terms `loss_names` names."""
    from pointrend.models import PointRendLoss, STDCLoss, STDCPointRendLoss

    loss, ignore_index = recipe.loss, recipe.data.ignore_index
    if recipe.model.arch != "stdc":
        return PointRendLoss(
            coarse_weight=loss.coarse_weight,
            point_weight=loss.point_weight,
            ignore_index=ignore_index,
        )
    stdc_loss = STDCLoss(
        thresh=loss.ohem_thresh,
        min_kept=loss.ohem_min_kept,
        ignore_index=ignore_index,
        weights=(loss.coarse_weight, loss.aux_weight, loss.aux_weight, loss.detail_weight),
    )
    return STDCPointRendLoss(stdc_loss, loss.point_weight) if recipe.model.point_head else stdc_loss


def loss_names(config: ModelConfig) -> list[str]:
    """Names of the terms `build_loss` returns, in order."""
    from pointrend.models import STDC_LOSS_NAMES, STDC_POINTREND_LOSS_NAMES

    if config.arch == "stdc":
        return list(STDC_POINTREND_LOSS_NAMES if config.point_head else STDC_LOSS_NAMES)
    return ["coarse_ce", "point_ce"] if config.point_head else ["coarse_ce"]


def normalization(data: DataConfig) -> Normalization:
    """The image normalisation the recipe trains with (and exported models expect)."""
    return Normalization.from_settings(dataclasses.asdict(data), "the recipe's data section")


def _normalisation(data: DataConfig) -> dict:
    return dataclasses.asdict(normalization(data))


def train_transforms(data: DataConfig):
    from pointrend.data import build_train_transforms

    return build_train_transforms(
        crop_size=data.crop_size,
        scale_range=data.scale_range,
        scale_step=data.scale_step,
        cat_max_ratio=data.cat_max_ratio,
        crop_tries=data.crop_tries,
        flip_prob=data.flip_prob,
        photometric=data.photometric,
        brightness=data.brightness,
        contrast=data.contrast,
        saturation=data.saturation,
        hue=data.hue,
        photometric_prob=data.photometric_prob,
        ignore_index=data.ignore_index,
        **_normalisation(data),
    )


def val_transforms(data: DataConfig):
    from pointrend.data import build_val_transforms

    return build_val_transforms(**_normalisation(data))


def dataset_spec(data: DataConfig):
    """The DatasetSpec of data.root: its dataset.json, or the Cityscapes preset; else
    DatasetError."""
    from pointrend.data.presets import spec_for_root

    try:
        return spec_for_root(data.root)
    except (FileNotFoundError, ValueError) as error:
        raise DatasetError(f"cannot read the dataset (--data.root={data.root}): {error}") from error


def build_dataset(data: DataConfig, train: bool):
    """The train or val split of the recipe's dataset (data.root/dataset.json, or a Cityscapes
    layout); a missing or broken dataset -> DatasetError. data.train_list / val_list replace the
    split's files by a list file."""
    from pointrend.data import CityscapesDataset, SegmentationDataset
    from pointrend.data.presets import CITYSCAPES
    from pointrend.data.spec import SplitSpec

    spec = dataset_spec(data)
    split, list_file = (
        (data.train_split, data.train_list) if train else (data.val_split, data.val_list)
    )
    transforms = train_transforms(data) if train else val_transforms(data)
    try:
        if spec.preset == CITYSCAPES:
            return CityscapesDataset(
                data.root,
                split=split,
                transforms=transforms,
                list_file=list_file,
                separator=data.list_separator,
            )
        if list_file is not None:
            spec = dataclasses.replace(
                spec,
                splits={**spec.splits, split: SplitSpec(split, list_file=list_file)},
                list_separator=data.list_separator,
            )
        return SegmentationDataset(spec, split, transforms)
    except (FileNotFoundError, ValueError) as error:
        raise DatasetError(
            f"cannot load the {split} split (--data.root={data.root}): {error}"
        ) from error


def check_num_classes(recipe: Recipe, dataset) -> None:
    """The network must predict as many classes as the dataset labels, and the loss must ignore
    the dataset's ignore index (checked before building the network)."""
    classes = getattr(dataset, "num_classes", None)
    spec = getattr(dataset, "spec", None)
    if classes is not None and classes != recipe.model.num_classes:
        detail = hint = ""
        if spec is not None:
            names = ", ".join(spec.class_names[:6]) + (", ..." if classes > 6 else "")
            detail = f" ({spec.source}: {names})"
            if spec.preset is None:
                hint = ", or use recipes.semfpn_pointrend_custom, which takes it from dataset.json"
        raise RecipeError(
            f"--model.num_classes={recipe.model.num_classes} but the dataset at "
            f"--data.root={recipe.data.root} has {classes} classes{detail}; set "
            f"--model.num_classes={classes}{hint}"
        )
    if spec is not None and recipe.data.ignore_index != spec.ignore_index:
        raise RecipeError(
            f"--data.ignore_index={recipe.data.ignore_index} but {spec.source} declares "
            f"ignore_index {spec.ignore_index}; set --data.ignore_index={spec.ignore_index}"
        )


def with_dataset_classes(recipe: Recipe, overrides: dict) -> Recipe:
    """`recipe` with model.num_classes and data.ignore_index taken from data.root's dataset spec,
    except where `overrides` (the command line) sets them. A root without a readable spec leaves
    the recipe as it is: the command that needs the data reports it."""
    from pointrend.data.presets import spec_for_root

    try:
        spec = spec_for_root(recipe.data.root)
    except (FileNotFoundError, ValueError):
        return recipe
    model, data = recipe.model, recipe.data
    if "model.num_classes" not in overrides:
        model = dataclasses.replace(model, num_classes=spec.num_classes)
    if "data.ignore_index" not in overrides:
        data = dataclasses.replace(data, ignore_index=spec.ignore_index)
    return dataclasses.replace(recipe, model=model, data=data)


def prediction_palette(recipe: Recipe):
    """RGB colour per class for prediction pictures: the dataset's palette when data.root holds a
    readable spec with the recipe's class count, else Cityscapes' for 19 classes, else generated."""
    from pointrend.data.palette import default_palette
    from pointrend.data.presets import spec_for_root

    try:
        spec = spec_for_root(recipe.data.root)
    except (FileNotFoundError, ValueError):
        spec = None
    if spec is not None and spec.num_classes == recipe.model.num_classes:
        return spec.colors
    return None if recipe.model.num_classes == 19 else default_palette(recipe.model.num_classes)


def inference_options(recipe: Recipe) -> InferenceOptions:
    """How eval, periodic evaluation and predict run the network: the recipe's eval section."""
    ev = recipe.eval
    return InferenceOptions(
        mode=ev.mode,
        scales=ev.scales,
        flip=ev.flip,
        crop=ev.crop,
        stride=ev.stride,
        average=ev.average,
    )


def evaluation_options(recipe: Recipe, class_names=None) -> dict:
    """Keyword arguments of evaluate_dataset for this recipe (class_names: the dataset's)."""
    ev = recipe.eval
    return {
        "options": inference_options(recipe),
        "num_classes": recipe.model.num_classes,
        "ignore_index": recipe.data.ignore_index,
        "boundary_width": ev.boundary_width,
        "num_workers": ev.num_workers,
        "on_bad_sample": recipe.data.on_bad_sample,
        "class_names": list(class_names) if class_names is not None else None,
    }


def build_callbacks(recipe: Recipe, val_dataset) -> list[TrainerCallback]:
    """The recipe's callbacks in running order. The rules that order follows are declared on the
    callback classes (`runs_before` / `runs_after`), and the Trainer refuses a list that breaks
    one."""
    cb, schedule = recipe.callbacks, recipe.schedule
    callbacks: list[TrainerCallback] = []
    if cb.ema.enabled:
        callbacks.append(ExponentialMovingAverage(cb.ema.decay, cb.ema.warmup_iters))
    callbacks.append(ProgressLogger(schedule.log_interval))
    if cb.divergence.enabled:
        callbacks.append(
            StopOnDivergence(
                cb.divergence.baseline_iters,
                cb.divergence.window,
                cb.divergence.factor,
                cb.divergence.stop,
                phrase_settings=as_flags,
            )
        )
    callbacks.append(PeriodicCheckpoint(schedule.checkpoint_interval))
    if cb.evaluation:
        callbacks.append(
            PeriodicEvaluation(
                val_dataset,
                schedule.eval_interval,
                recipe.output_dir,
                **evaluation_options(recipe, val_dataset.class_names),
            )
        )
    if cb.tensorboard.enabled:
        callbacks.append(
            TensorBoardLogger(
                os.path.join(recipe.output_dir, "tensorboard"),
                schedule.log_interval,
                val_dataset,
                cb.tensorboard.num_images,
            )
        )
    if cb.evaluation:
        callbacks.append(BestCheckpoint(cb.checkpoint.best_metric))
    return callbacks


def build_trainer(recipe: Recipe, runtime: Runtime, load_pretrained: bool = True) -> Trainer:
    """Datasets first (a missing dataset fails before any model download), then the network."""
    train_dataset = build_dataset(recipe.data, train=True)
    needs_val = recipe.callbacks.evaluation or recipe.callbacks.tensorboard.enabled
    val_dataset = build_dataset(recipe.data, train=False) if needs_val else None
    check_num_classes(recipe, train_dataset)
    network = build_network(recipe.model, load_pretrained=load_pretrained)
    if load_pretrained and not recipe.model.pretrained and is_main_process():
        print(
            "note: model.pretrained is not set, the backbone starts from random weights "
            "(the paper fine-tunes ImageNet weights: --model.pretrained=<.pdparams path or URL>)"
        )
    if runtime.world_size > 1 and runtime.is_gpu and recipe.model.norm == "bn":
        network = convert_to_sync_batchnorm(network)
        if is_main_process():
            print(f"BatchNorm -> SyncBatchNorm across {runtime.world_size} GPUs")
    return Trainer(
        network,
        build_loss(recipe),
        train_dataset,
        optim=recipe.optim,
        schedule=recipe.schedule,
        batch_size=recipe.data.batch_size,
        output_dir=recipe.output_dir,
        callbacks=build_callbacks(recipe, val_dataset),
        loss_names=loss_names(recipe.model),
        num_workers=recipe.data.num_workers,
        seed=recipe.seed,
        amp=recipe.callbacks.amp,
        device=runtime.device,
        keep_last=recipe.callbacks.checkpoint.keep_last,
        recipe=recipe_to_dict(recipe),
        ignore_index=recipe.data.ignore_index,
        on_bad_sample=recipe.data.on_bad_sample,
    )
