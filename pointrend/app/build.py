"""Objects a recipe describes: network, loss, datasets, callbacks and the Trainer."""
from __future__ import annotations

import dataclasses
import os

import paddle

from pointrend.train.callbacks import (BestCheckpoint, ExponentialMovingAverage, PeriodicCheckpoint, PeriodicEvaluation,
                                        ProgressLogger, TensorBoardLogger, TrainerCallback)
from pointrend.app.runtime import Runtime
from pointrend.utils.distributed import convert_to_sync_batchnorm, is_main_process
from pointrend.app.errors import DatasetError
from pointrend.train.trainer import Trainer
from pointrend.config.recipe import DataConfig, ModelConfig, Recipe, RecipeError, recipe_to_dict


def build_network(config: ModelConfig, load_pretrained: bool = True) -> paddle.nn.Layer:
    """The model, built under a fresh unique-name scope: its parameters (and so the optimizer
    state keys) get the same generated names in every process, which resuming relies on.
    `load_pretrained=False` skips the ImageNet download when a checkpoint replaces the weights."""
    from pointrend.models import build_model

    kwargs = dataclasses.asdict(config)
    if not load_pretrained:
        kwargs["pretrained"] = None
    with paddle.utils.unique_name.guard():
        return build_model(**kwargs)


def build_loss(recipe: Recipe):
    from pointrend.models import PointRendLoss

    return PointRendLoss(coarse_weight=recipe.loss.coarse_weight, point_weight=recipe.loss.point_weight,
                         ignore_index=recipe.data.ignore_index)


def loss_names(config: ModelConfig) -> list[str]:
    """Names of the terms PointRendLoss returns, in order."""
    return ["coarse_ce", "point_ce"] if config.point_head else ["coarse_ce"]


def _normalisation(data: DataConfig) -> dict:
    return {"mean": data.mean, "std": data.std, "to_rgb": data.to_rgb, "max_pixel_value": data.max_pixel_value}


def train_transforms(data: DataConfig):
    from pointrend.data import build_train_transforms

    return build_train_transforms(
        crop_size=data.crop_size, scale_range=data.scale_range, scale_step=data.scale_step,
        cat_max_ratio=data.cat_max_ratio, crop_tries=data.crop_tries, flip_prob=data.flip_prob,
        photometric=data.photometric, ignore_index=data.ignore_index, **_normalisation(data))


def val_transforms(data: DataConfig):
    from pointrend.data import build_val_transforms

    return build_val_transforms(**_normalisation(data))


def build_dataset(data: DataConfig, train: bool):
    """The train or val split of the recipe's dataset; a missing or broken dataset -> DatasetError."""
    from pointrend.data import CityscapesDataset

    split, list_file = (data.train_split, data.train_list) if train else (data.val_split, data.val_list)
    transforms = train_transforms(data) if train else val_transforms(data)
    try:
        return CityscapesDataset(data.root, split=split, transforms=transforms, list_file=list_file,
                                 separator=data.list_separator)
    except (FileNotFoundError, ValueError) as error:
        raise DatasetError(f"cannot load the {split} split (--data.root={data.root}): {error}") from error


def check_num_classes(recipe: Recipe, dataset) -> None:
    """The network must predict as many classes as the dataset labels (checked before building it)."""
    classes = getattr(dataset, "num_classes", None)
    if classes is not None and classes != recipe.model.num_classes:
        raise RecipeError(f"--model.num_classes={recipe.model.num_classes} but the dataset at "
                          f"--data.root={recipe.data.root} has {classes} classes; set "
                          f"--model.num_classes={classes}")


def evaluation_options(recipe: Recipe) -> dict:
    """Keyword arguments of evaluate_dataset for this recipe."""
    ev = recipe.eval
    return {"mode": ev.mode, "scales": ev.scales, "flip": ev.flip, "crop": ev.crop, "stride": ev.stride,
            "num_classes": recipe.model.num_classes, "ignore_index": recipe.data.ignore_index,
            "boundary_width": ev.boundary_width, "num_workers": ev.num_workers}


def build_callbacks(recipe: Recipe, val_dataset) -> list[TrainerCallback]:
    """In the order they must run after each iteration: the EMA update first (checkpoints and
    evaluation see it), the log line, the periodic checkpoint (safe before evaluation starts),
    evaluation, TensorBoard, then the best-checkpoint pointer (which needs the new score)."""
    cb, schedule = recipe.callbacks, recipe.schedule
    callbacks: list[TrainerCallback] = []
    if cb.ema.enabled:
        callbacks.append(ExponentialMovingAverage(cb.ema.decay, cb.ema.warmup_iters))
    callbacks.append(ProgressLogger(schedule.log_interval))
    callbacks.append(PeriodicCheckpoint(schedule.checkpoint_interval))
    if cb.evaluation:
        callbacks.append(PeriodicEvaluation(val_dataset, schedule.eval_interval, recipe.output_dir,
                                            **evaluation_options(recipe)))
    if cb.tensorboard.enabled:
        callbacks.append(TensorBoardLogger(os.path.join(recipe.output_dir, "tensorboard"), schedule.log_interval,
                                           val_dataset, cb.tensorboard.num_images))
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
        print("note: model.pretrained is not set, the backbone starts from random weights "
              "(the paper fine-tunes ImageNet weights: --model.pretrained=<.pdparams path or URL>)")
    if runtime.world_size > 1 and runtime.is_gpu and recipe.model.norm == "bn":
        network = convert_to_sync_batchnorm(network)
        if is_main_process():
            print(f"BatchNorm -> SyncBatchNorm across {runtime.world_size} GPUs")
    return Trainer(
        network, build_loss(recipe), train_dataset,
        optim=recipe.optim, schedule=recipe.schedule, batch_size=recipe.data.batch_size,
        output_dir=recipe.output_dir, callbacks=build_callbacks(recipe, val_dataset),
        loss_names=loss_names(recipe.model), num_workers=recipe.data.num_workers, seed=recipe.seed,
        amp=recipe.callbacks.amp, device=runtime.device, keep_last=recipe.callbacks.checkpoint.keep_last,
        recipe=recipe_to_dict(recipe))
