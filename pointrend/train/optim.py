"""SGD with momentum, parameter groups for weight decay, poly LR with linear warm-up."""

from __future__ import annotations

import paddle
from paddle import nn

from pointrend.train.hapi import GroupedMomentum
from pointrend.train.settings import TrainingSettingError

_NORM_LAYERS = (
    nn.BatchNorm,
    nn.BatchNorm1D,
    nn.BatchNorm2D,
    nn.BatchNorm3D,
    nn.SyncBatchNorm,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.InstanceNorm2D,
)


def split_decay_groups(
    network: nn.Layer, weight_decay: float, decay_norm_and_bias: bool
) -> list[dict]:
    """Trainable parameters in two groups: with weight decay, and without (norm affine + biases).

    Decaying the scale of a normalisation layer only fights the normalisation; detectron2 does
    not decay them. With `decay_norm_and_bias=True` everything is in the first group.
    """
    exempt: set[int] = set()
    if not decay_norm_and_bias:
        for layer in network.sublayers(include_self=True):
            if isinstance(layer, _NORM_LAYERS):
                exempt.update(id(p) for p in layer.parameters(include_sublayers=False))
            bias = getattr(layer, "bias", None)
            if isinstance(bias, paddle.Tensor):
                exempt.add(id(bias))
    trainable = [p for p in network.parameters() if not p.stop_gradient]
    decayed = [p for p in trainable if id(p) not in exempt]
    not_decayed = [p for p in trainable if id(p) in exempt]
    groups = [{"params": decayed, "weight_decay": weight_decay}]
    if not_decayed:
        groups.append({"params": not_decayed, "weight_decay": 0.0})
    return groups


def poly_with_warmup(
    base_lr: float,
    total_iters: int,
    warmup_iters: int,
    power: float = 0.9,
    min_lr: float = 0.0,
    warmup_start_factor: float = 0.001,
) -> paddle.optimizer.lr.LRScheduler:
    """LR at iteration t: linear from base_lr*warmup_start_factor to base_lr over warm-up, then
    (base_lr - min_lr) * (1 - (t - warmup) / (total - warmup)) ** power + min_lr.
    Stepped once per optimizer update.
    """
    if total_iters <= warmup_iters:
        raise TrainingSettingError(
            f"total_iters ({total_iters}) must exceed warmup_iters ({warmup_iters})"
        )
    poly = paddle.optimizer.lr.PolynomialDecay(
        learning_rate=base_lr, decay_steps=total_iters - warmup_iters, end_lr=min_lr, power=power
    )
    if warmup_iters == 0:
        return poly
    return paddle.optimizer.lr.LinearWarmup(
        learning_rate=poly,
        warmup_steps=warmup_iters,
        start_lr=base_lr * warmup_start_factor,
        end_lr=base_lr,
    )


def build_sgd(
    network: nn.Layer,
    lr_scheduler: paddle.optimizer.lr.LRScheduler,
    momentum: float,
    weight_decay: float,
    decay_norm_and_bias: bool,
    grad_clip_norm: float | None,
) -> paddle.optimizer.Optimizer:
    """SGD with momentum (L2 weight decay per group), optional clipping by global gradient norm;
    its `minimize` works with hapi (`GroupedMomentum`)."""
    clip = paddle.nn.ClipGradByGlobalNorm(grad_clip_norm) if grad_clip_norm else None
    return GroupedMomentum(
        learning_rate=lr_scheduler,
        momentum=momentum,
        # Paddle takes plain dicts as parameter groups; its type information wants TypedDicts.
        parameters=split_decay_groups(network, weight_decay, decay_norm_and_bias),  # type: ignore[arg-type]
        weight_decay=weight_decay,
        grad_clip=clip,
    )
