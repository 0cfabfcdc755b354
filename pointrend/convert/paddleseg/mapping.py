"""PaddleSeg's tensor names for every parameter and buffer of our models.

PointRend (ours -> PaddleSeg 2.8's PointRend):
  backbone.stem.convK / normK            backbone.conv1_K._conv / ._batch_norm
  backbone.resS.B.convK / normK          backbone.bb_{S-2}_B.conv{K-1}._conv / ._batch_norm
  backbone.resS.B.shortcut.conv / norm   backbone.bb_{S-2}_B.short._conv / ._batch_norm
  neck.lateral_convs.I.{0,1}             neck.lateral_convs.I.{0,1} (the same)
  neck.output_convs.I.0 / .1             neck.fpn_out.I.0._conv / ._batch_norm
  coarse_head.towers.I.J.conv            fpnhead.scale_heads.I.J._conv
  coarse_head.predictor                  fpnhead.conv_seg
  point_head.fcs.I / predictor           pointhead.fcs.I._conv / pointhead.fc_seg
PaddleSeg builds an output conv for the neck's top level that its forward never runs
(`neck.fpn_out.3.*` with four levels); our neck has none, so those tensors are accounted for as
never run. STDC-Seg: our model uses PaddleSeg's names, so every name maps to itself.
Every tensor on each side must pair with exactly one on the other, with the same shape.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from pointrend.convert.detectron2.mapping import describe
from pointrend.convert.renaming import rename_by_patterns
from pointrend.models.pretrained import paddleseg_name as paddleseg_backbone_name
from pointrend.models.pretrained import parse_name

HEAD_PATTERNS: list[tuple[re.Pattern, Callable[[re.Match], str]]] = [
    (re.compile(r"neck\.lateral_convs\.(\d+)\.([01])\.(\w+)"), lambda m: m[0]),
    (
        re.compile(r"neck\.output_convs\.(\d+)\.0\.weight"),
        lambda m: f"neck.fpn_out.{m[1]}.0._conv.weight",
    ),
    (
        re.compile(r"neck\.output_convs\.(\d+)\.1\.(\w+)"),
        lambda m: f"neck.fpn_out.{m[1]}.0._batch_norm.{m[2]}",
    ),
    (
        re.compile(r"coarse_head\.towers\.(\d+)\.(\d+)\.conv\.(weight|bias)"),
        lambda m: f"fpnhead.scale_heads.{m[1]}.{m[2]}._conv.{m[3]}",
    ),
    (re.compile(r"coarse_head\.predictor\.(weight|bias)"), lambda m: f"fpnhead.conv_seg.{m[1]}"),
    (
        re.compile(r"point_head\.fcs\.(\d+)\.(weight|bias)"),
        lambda m: f"pointhead.fcs.{m[1]}._conv.{m[2]}",
    ),
    (re.compile(r"point_head\.predictor\.(weight|bias)"), lambda m: f"pointhead.fc_seg.{m[1]}"),
]


def paddleseg_pointrend_name(our_name: str) -> str | None:
    """PaddleSeg's name for one of our PointRend state-dict names; None without a counterpart."""
    if our_name.startswith("backbone."):
        return "backbone." + paddleseg_backbone_name(parse_name(our_name.removeprefix("backbone.")))
    return rename_by_patterns(our_name, HEAD_PATTERNS)


def never_run_pointrend_names(theirs: Mapping[str, Sequence[int]]) -> list[str]:
    """The tensors of the neck's top-level output conv, which PaddleSeg builds but never runs."""
    top = sum(f"neck.lateral_convs.{i}.0.weight" in theirs for i in range(len(theirs))) - 1
    return [name for name in theirs if name.startswith(f"neck.fpn_out.{top}.")]


def map_paddleseg_names(
    ours: Mapping[str, Sequence[int]],
    theirs: Mapping[str, Sequence[int]],
    rename: Callable[[str], str | None],
    never_run: Sequence[str] = (),
    source: str = "checkpoint",
) -> dict[str, str]:
    """{our name: PaddleSeg name} pairing every tensor of both sides, given {name: shape} of each;
    `never_run` are PaddleSeg tensors known to have no use.

    Raises one ValueError naming every tensor of ours without a source, every checkpoint tensor
    left over, and every pair whose shapes differ.
    """
    named = {name: rename(name) for name in ours}
    pairs = {name: their for name, their in named.items() if their is not None and their in theirs}
    missing = [name for name in ours if name not in pairs]
    used = set(pairs.values()) | set(never_run)
    left_over = [name for name in theirs if name not in used]
    mismatched = [
        f"{their} {tuple(theirs[their])} vs {name} {tuple(ours[name])}"
        for name, their in pairs.items()
        if tuple(theirs[their]) != tuple(ours[name])
    ]
    shared = sorted(their for their, count in Counter(pairs.values()).items() if count > 1)
    problems = [
        describe(f"{len(missing)} tensors of the model have no source", missing),
        describe(f"{len(shared)} checkpoint tensors would feed two of ours", shared),
        describe(f"{len(left_over)} checkpoint tensors are left over", left_over),
        describe(f"{len(mismatched)} shapes differ", mismatched),
    ]
    problems = [problem for problem in problems if problem]
    if problems:
        raise ValueError(f"{source}: the checkpoint does not fit the model: " + "; ".join(problems))
    return pairs
