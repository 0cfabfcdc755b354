"""Samples of a split given by a list file: `image<separator>mask` per line (or `image` alone),
paths relative to the dataset root; every bad line or missing file is a Problem with its line."""

import os
from collections import defaultdict

from pointrend.data.layout import split_fields
from pointrend.data.pairing import SplitFiles
from pointrend.data.problems import Problem
from pointrend.data.spec import DatasetSpec, SplitSpec


def read_pairs_list(
    spec: DatasetSpec, split: SplitSpec, labelled: bool | None = None
) -> SplitFiles:
    """Parse the split's list file; `labelled=None` follows the first line (2 fields: labelled)."""
    files = SplitFiles(spec, split.name)
    path = os.path.join(spec.root, split.list_file or "")
    fix = f"fix the line, or splits.{split.name}.list / list_separator in {spec.source}"
    if not os.path.isfile(path):
        files.problems.append(Problem("missing list file", path, "does not exist", fix))
        return files
    with open(path, encoding="utf-8") as handle:
        lines = [(number, line.strip()) for number, line in enumerate(handle, 1) if line.strip()]
    if not lines:
        files.problems.append(Problem("empty split", path, "the list file has no lines", fix))
        return files
    separator = spec.list_separator
    files.found_images = len(lines)
    wanted = (
        2
        if (len(split_fields(lines[0][1], separator)) >= 2 if labelled is None else labelled)
        else 1
    )
    files.masks = [] if wanted == 2 else None
    users: dict[str, list[int]] = defaultdict(list)
    for number, line in lines:
        fields = split_fields(line, separator)
        if len(fields) != wanted:
            files.problems.append(
                Problem(
                    "malformed line",
                    f"{path}:{number}",
                    f"{line!r} does not split into {wanted} field(s) with separator {separator!r}",
                    fix,
                )
            )
            continue
        sample = [os.path.join(spec.root, field) for field in fields]
        missing = [p for p in sample if not os.path.isfile(p)]
        if missing:
            files.problems.append(
                Problem(
                    "missing file",
                    f"{path}:{number}",
                    f"{missing[0]} does not exist",
                    "paths are relative to the dataset root: fix the line or the root",
                )
            )
            continue
        files.images.append(sample[0])
        if files.masks is not None:
            files.masks.append(sample[1])
            users[sample[1]].append(number)
    for mask, numbers in users.items():
        if len(numbers) > 1:
            files.problems.append(
                Problem(
                    "two images, one mask name",
                    mask,
                    f"named on lines {', '.join(map(str, numbers))} of {path}",
                    "each image needs its own mask: fix the list file",
                )
            )
    return files
