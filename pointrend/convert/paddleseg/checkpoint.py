"""Reading a PaddleSeg checkpoint (`model.pdparams`): which model it holds, and its tensors.

PaddleSeg saves `paddle.save(model.state_dict(), "model.pdparams")`, read here by the restricted
reader of `pointrend.utils` (no code from the file runs). Two models are recognised by their
tensor names: PointRend on ResNet_vd (`backbone.conv1_1.*`, `neck.*`, `fpnhead.*`, `pointhead.*`)
and STDC-Seg (`cp.backbone.features.*`, `ffm.*`, `conv_out.*`).

Input convention: PaddleSeg's Cityscapes configs (PointRend, STDC-Seg) normalise with its default
`Normalize()`, mean 0.5 and std 0.5 on RGB images scaled to 0-1, i.e. (x - 127.5) / 127.5 on the
0-255 RGB scale (not the ImageNet statistics).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from pointrend.utils.weight_files import load_weights_file

CHANNEL_ORDER = "RGB"
PIXEL_MEAN = (127.5, 127.5, 127.5)
PIXEL_STD = (127.5, 127.5, 127.5)

POINTREND = "pointrend"
STDC_SEG = "stdc_seg"
EXPECTED = (
    "expected a PaddleSeg PointRend (ResNet_vd) or STDC-Seg model.pdparams "
    "(backbone.*, neck.*, fpnhead.*, pointhead.* or cp.backbone.*, ffm.*, conv_out.* tensors)"
)
OPTIMIZER_SUFFIXES = ("_velocity_0", "_moment1_0", "_moment2_0", "_beta1_pow_acc_0")


@dataclass
class PaddleSegCheckpoint:
    """The tensors of a PaddleSeg checkpoint by PaddleSeg's names; `kind` is POINTREND or
    STDC_SEG; `source` names the file in messages."""

    weights: dict[str, np.ndarray]
    kind: str
    source: str

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: tuple(array.shape) for name, array in self.weights.items()}


def read_paddleseg_checkpoint(path: str | os.PathLike) -> PaddleSegCheckpoint:
    """Read a PaddleSeg `.pdparams`; raise a one-line ValueError for any other kind of file."""
    source = str(path)
    loaded = load_weights_file(path)
    if not isinstance(loaded, dict) or not loaded:
        raise ValueError(f"{source}: no tensors found (a {type(loaded).__name__}); {EXPECTED}")
    if "LR_Scheduler" in loaded or any(str(name).endswith(OPTIMIZER_SUFFIXES) for name in loaded):
        raise ValueError(
            f"{source}: this is an optimizer state (model.pdopt); give the model.pdparams beside it"
        )
    not_arrays = [name for name, value in loaded.items() if not isinstance(value, np.ndarray)]
    if not_arrays:
        kind = type(loaded[not_arrays[0]]).__name__
        raise ValueError(
            f"{source}: entry {not_arrays[0]!r} holds a {kind}, not an array; {EXPECTED}"
        )
    kind = model_kind(loaded)
    if kind not in (POINTREND, STDC_SEG):
        raise ValueError(f"{source}: this is {kind}; {EXPECTED}")
    return PaddleSegCheckpoint(dict(loaded), kind, source)


def model_kind(names: Iterable[str]) -> str:
    """POINTREND, STDC_SEG, or a description of what else the tensor names show."""
    names = list(names)

    def has(prefix: str | tuple[str, ...]) -> bool:
        return any(name.startswith(prefix) for name in names)

    if has("pointhead.") and has("fpnhead."):
        if not has("backbone.conv1_1."):
            return "a PaddleSeg PointRend model on a backbone other than ResNet_vd"
        return POINTREND
    if has("cp.backbone.features.") and has("conv_out."):
        return STDC_SEG
    if has("sem_seg_head.point_head."):
        return "a detectron2 PointRend model (convert it as a detectron2 checkpoint)"
    if has(("conv1_1._conv.", "bb_0_0.")):
        return "a ResNet_vd ImageNet backbone (use it as the backbone's pretrained weights)"
    if has("features.0.conv."):
        return "an STDC ImageNet backbone (use it as the backbone's pretrained weights)"
    prefixes = sorted({name.split(".")[0] for name in names})
    shown = ", ".join(prefixes[:6]) + (", ..." if len(prefixes) > 6 else "")
    return f"another model (its tensors are under {shown})"
