"""Reading a detectron2 checkpoint: which kind of model it holds, and its tensors as arrays.

Two file formats, both read without torch and without running code from the file:
- model-zoo `.pkl`: a plain pickle {"model": {name: array}, "__author__": str} (sometimes with
  "matching_heuristics"); the published PointRend Cityscapes models have this form;
- `.pth` from detectron2's own Checkpointer (torch.save): {"model": state_dict, "optimizer": ...,
  "scheduler": ..., "iteration": ...}, the state dict carrying torch's per-module `_metadata`.

FrozenBatchNorm statistics: detectron2's FrozenBatchNorm2d (`detectron2/layers/batch_norm.py`,
version 3) computes (x - mean) / sqrt(var + eps) * weight + bias with eps = 1e-5, as ours does,
and a `.pkl` carries no versions, so detectron2 uses its statistics as they are; so do we.
Version 2 of that layer (recorded in a `.pth`'s `_metadata`) computed without the eps, and
detectron2's loader of that time upgraded such files with running_var -= eps; we do the same.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pointrend.models.pretrained import MSRA_PIXEL_MEAN, MSRA_PIXEL_STD
from pointrend.utils.weight_files import load_weights_file

# detectron2's Cityscapes models take BGR images on the 0-255 scale (its PIXEL_MEAN / PIXEL_STD,
# the statistics of the MSRA ImageNet weights it starts from).
CHANNEL_ORDER = "BGR"
PIXEL_MEAN = MSRA_PIXEL_MEAN
PIXEL_STD = MSRA_PIXEL_STD

FROZEN_BN_EPSILON = 1e-5  # detectron2's get_norm("FrozenBN", C) keeps FrozenBatchNorm2d's default
EXPECTED = (
    "expected a detectron2 PointRend semantic-segmentation model "
    "(sem_seg_head.coarse_sem_seg_head.* and sem_seg_head.point_head.* tensors)"
)


@dataclass
class Detectron2Checkpoint:
    """The tensors of a detectron2 PointRend semantic-segmentation checkpoint.

    `weights` maps detectron2's names to float arrays, FrozenBatchNorm statistics already in the
    form our FrozenBatchNorm2D uses; `source` names the file in messages.
    """

    weights: dict[str, np.ndarray]
    source: str

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: tuple(array.shape) for name, array in self.weights.items()}


def read_detectron2_checkpoint(path: str | os.PathLike) -> Detectron2Checkpoint:
    """Read a detectron2 `.pkl` or `.pth` file; raise a one-line ValueError for any other kind."""
    source = str(path)
    loaded = load_weights_file(path)
    state = loaded.get("model", loaded) if isinstance(loaded, dict) else loaded
    if isinstance(loaded, dict) and "blobs" in loaded:
        state = loaded["blobs"]
    if not isinstance(state, dict) or not state:
        raise ValueError(f"{source}: no tensors found (a {type(loaded).__name__}); {EXPECTED}")
    weights = {}
    for name, value in state.items():
        if not isinstance(value, np.ndarray):
            raise ValueError(
                f"{source}: entry {name!r} of the model holds a {type(value).__name__}, "
                "not an array"
            )
        # A model saved from inside DistributedDataParallel has "module." before every name.
        weights[name.removeprefix("module.")] = value
    kind = other_kind(weights)
    if kind is not None:
        raise ValueError(f"{source}: this is {kind}; {EXPECTED}")
    upgrade_frozen_bn_version_2(weights, getattr(state, "_metadata", None))
    return Detectron2Checkpoint(weights, source)


def other_kind(names: Iterable[str]) -> str | None:
    """What a checkpoint holds when it is not a PointRend semantic-segmentation model, else None."""
    names = list(names)

    def has(prefix: str | tuple[str, ...]) -> bool:
        return any(name.startswith(prefix) for name in names)

    if has("roi_heads.") and has("sem_seg_head."):
        return "a panoptic segmentation model (Panoptic FPN: ROI heads and a semantic head)"
    if has("roi_heads.mask_point_head.") or has("roi_heads.mask_coarse_head."):
        return "a PointRend instance-segmentation model (Mask R-CNN with a point head)"
    if has("roi_heads.mask_head."):
        return "an instance-segmentation model (Mask R-CNN)"
    if has("roi_heads.") or has("proposal_generator.") or has("head.cls_subnet."):
        return "an object-detection model (box heads)"
    if has("sem_seg_head.") and not has("sem_seg_head.point_head."):
        return "a semantic-segmentation model without a point head (Semantic FPN or DeepLab)"
    if any(name.endswith("_branch2a_w") or name == "conv1_w" for name in names):
        if has(("bbox_pred", "cls_score", "rpn_", "conv_rpn", "mask_fcn", "fpn_")):
            return "a Detectron (Caffe2) detection model"
        return "an ImageNet backbone in Caffe2 names (use it as the backbone's pretrained weights)"
    if has("stem.") or has("res2."):
        return "an ImageNet backbone (use it as the backbone's pretrained weights)"
    if not has("sem_seg_head.point_head."):
        return "not a detectron2 PointRend model (no sem_seg_head.point_head.* tensors)"
    return None


def upgrade_frozen_bn_version_2(weights: dict[str, np.ndarray], metadata: Any) -> None:
    """running_var -= eps for FrozenBatchNorm layers that a `.pth` records as version 2, which
    divided by sqrt(running_var) without eps. torch's own BatchNorm is also version 2; it has a
    num_batches_tracked buffer, FrozenBatchNorm has none."""
    if not isinstance(metadata, dict):
        return
    for prefix, info in metadata.items():
        prefix = prefix.removeprefix("module.")
        version = info.get("version") if isinstance(info, dict) else None
        variance = f"{prefix}.running_var"
        if version == 2 and variance in weights and f"{prefix}.num_batches_tracked" not in weights:
            weights[variance] = weights[variance] - np.asarray(
                FROZEN_BN_EPSILON, weights[variance].dtype
            )
