"""detectron2's tensor names for every parameter and buffer of our PointRend model.

  backbone.stem / resN.i (ours)       backbone.bottom_up.stem.conv1 / resN.i.convK, .shortcut
  neck.lateral_convs.i / output_convs.i   backbone.fpn_lateral{i+2} / fpn_output{i+2}
  coarse_head.towers.L.J.0 / .J.1     sem_seg_head.coarse_sem_seg_head.p{L+2}.J / .J.norm
  coarse_head.predictor               sem_seg_head.coarse_sem_seg_head.predictor
  point_head.fcs.i / predictor        sem_seg_head.point_head.fc{i+1} / predictor
Norm tensors: our `_mean` / `_variance` are detectron2's `running_mean` / `running_var`. Every
tensor on each side must pair with exactly one on the other, with the same shape; torch
BatchNorm's `num_batches_tracked` counter is the one detectron2 tensor without a counterpart
(it only counts training steps).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

from pointrend.convert.renaming import rename_by_patterns
from pointrend.models.pretrained import detectron2_name as detectron2_backbone_name
from pointrend.models.pretrained import parse_name

NORM_TENSORS = {
    "weight": "weight",
    "bias": "bias",
    "_mean": "running_mean",
    "_variance": "running_var",
}
STEP_COUNTER = "num_batches_tracked"
MAX_NAMES_IN_MESSAGE = 12

HEAD_PATTERNS = [
    (
        re.compile(r"neck\.lateral_convs\.(\d+)\.(weight|bias)"),
        lambda m: f"backbone.fpn_lateral{int(m[1]) + 2}.{m[2]}",
    ),
    (
        re.compile(r"neck\.output_convs\.(\d+)\.(weight|bias)"),
        lambda m: f"backbone.fpn_output{int(m[1]) + 2}.{m[2]}",
    ),
    (
        re.compile(r"coarse_head\.towers\.(\d+)\.(\d+)\.0\.weight"),
        lambda m: f"sem_seg_head.coarse_sem_seg_head.p{int(m[1]) + 2}.{m[2]}.weight",
    ),
    (
        re.compile(r"coarse_head\.towers\.(\d+)\.(\d+)\.1\.(weight|bias|_mean|_variance)"),
        lambda m: (
            f"sem_seg_head.coarse_sem_seg_head.p{int(m[1]) + 2}.{m[2]}.norm.{NORM_TENSORS[m[3]]}"
        ),
    ),
    (
        re.compile(r"coarse_head\.predictor\.(weight|bias)"),
        lambda m: f"sem_seg_head.coarse_sem_seg_head.predictor.{m[1]}",
    ),
    (
        re.compile(r"point_head\.fcs\.(\d+)\.(weight|bias)"),
        lambda m: f"sem_seg_head.point_head.fc{int(m[1]) + 1}.{m[2]}",
    ),
    (
        re.compile(r"point_head\.predictor\.(weight|bias)"),
        lambda m: f"sem_seg_head.point_head.predictor.{m[1]}",
    ),
]


def detectron2_name(our_name: str) -> str | None:
    """detectron2's name for one of our model's state-dict names; None if it has no counterpart."""
    if our_name.startswith("backbone."):
        return "backbone.bottom_up." + detectron2_backbone_name(
            parse_name(our_name.removeprefix("backbone."))
        )
    return rename_by_patterns(our_name, HEAD_PATTERNS)


def map_detectron2_names(
    ours: Mapping[str, Sequence[int]],
    theirs: Mapping[str, Sequence[int]],
    source: str = "checkpoint",
) -> dict[str, str]:
    """{our name: detectron2 name} pairing every tensor of both sides, given {name: shape} of each.

    Raises one ValueError naming every tensor of ours without a source, every source tensor left
    over, and every pair whose shapes differ.
    """
    named = {name: detectron2_name(name) for name in ours}
    pairs = {name: their for name, their in named.items() if their is not None and their in theirs}
    missing = [name for name in ours if name not in pairs]
    used = set(pairs.values())
    left_over = [
        name for name in theirs if name not in used and not name.endswith(f".{STEP_COUNTER}")
    ]
    mismatched = [
        f"{their} {tuple(theirs[their])} vs {name} {tuple(ours[name])}"
        for name, their in pairs.items()
        if tuple(theirs[their]) != tuple(ours[name])
    ]
    uses = Counter(pairs.values())
    shared = sorted(their for their, count in uses.items() if count > 1)
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


def describe(summary: str, names: list[str]) -> str:
    if not names:
        return ""
    shown = ", ".join(names[:MAX_NAMES_IN_MESSAGE])
    more = (
        f" and {len(names) - MAX_NAMES_IN_MESSAGE} more"
        if len(names) > MAX_NAMES_IN_MESSAGE
        else ""
    )
    return f"{summary} ({shown}{more})"
