"""`prepare check` for any dataset with a DatasetSpec: counts, pairing, unreadable files, size
mismatches, mask values outside the declared classes (files and pixel counts), class frequencies."""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pointrend.data.decode import read_image_file, read_mask_file
from pointrend.data.errors import DataFileError
from pointrend.data.mask_values import UndeclaredValuesError, mask_to_train_ids
from pointrend.data.parallel import parallel_map
from pointrend.data.problems import Problem
from pointrend.data.spec import DatasetSpec
from pointrend.data.split_files import split_files

_EXAMPLES = 3
_UNDECLARED = "mask values not declared"
_REREAD = "re-extract, re-download or re-export the file"


@dataclass
class SpecCheckReport:
    spec: DatasetSpec
    counts: dict[str, Counter] = field(default_factory=dict)  # split -> images / masks / paired
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    # split -> pixels per train id: num_classes entries, then the ignored pixels.
    class_pixels: dict[str, np.ndarray] = field(default_factory=dict)
    undeclared: dict[str, Counter] = field(default_factory=dict)  # value -> {"pixels", "files"}

    @property
    def ok(self) -> bool:
        return not self.problems

    def format(self) -> str:
        spec = self.spec
        lines = [
            (
                f"{spec.source}: {spec.num_classes} classes, {spec.mask_format} masks, "
                f"ignore index {spec.ignore_index}"
            ),
            f"{'split':<12} {'images':>7} {'masks':>7} {'paired':>7}",
        ]
        for split, count in self.counts.items():
            lines.append(
                f"{split:<12} {count['images']:>7} {count['masks']:>7} {count['paired']:>7}"
            )
        if self.class_pixels:
            lines += frequency_lines(self.spec.class_names, self.class_pixels)
        for title, items in (("note", self.notes), ("problem", self.problems)):
            lines += _grouped(title, items)
        if self.undeclared:
            lines.append("undeclared mask values over all files:")
            for value, count in sorted(
                self.undeclared.items(), key=lambda item: -item[1]["pixels"]
            ):
                lines.append(f"    {value}: {count['pixels']} px in {count['files']} file(s)")
        lines.append(
            f"OK: no problems found in {spec.root}"
            if self.ok
            else f"{len(self.problems)} problem(s) in {spec.root}"
        )
        return "\n".join(lines)


def frequency_lines(class_names: Sequence[str], class_pixels: dict[str, np.ndarray]) -> list[str]:
    """A table of each class's share of the pixels per split; class_pixels[split] holds one count
    per class, then the count of pixels not labelled."""
    splits = list(class_pixels)
    names = list(class_names) + ["(not labelled)"]
    width = max(12, *(len(name) for name in names))
    lines = [
        "class pixel frequencies:",
        f"  {'class':<{width}} " + " ".join(f"{s:>10}" for s in splits),
    ]
    totals = {split: max(1, int(pixels.sum())) for split, pixels in class_pixels.items()}
    for index, name in enumerate(names):
        shares = " ".join(f"{100 * class_pixels[s][index] / totals[s]:>9.2f}%" for s in splits)
        lines.append(f"  {name:<{width}} {shares}")
    absent = [
        name
        for index, name in enumerate(class_names)
        if not any(class_pixels[s][index] for s in splits)
    ]
    if absent:
        lines.append(f"  no pixels at all: {', '.join(absent)} (the model cannot learn these)")
    return lines


def class_pixel_counts(train_ids: np.ndarray, num_classes: int) -> np.ndarray:
    """[num_classes + 1] pixel counts of a train-id map: each class, then everything else."""
    counts = np.bincount(train_ids.ravel(), minlength=256)
    return np.append(counts[:num_classes], counts[num_classes:].sum())


def check_spec_dataset(
    spec: DatasetSpec, decode: bool = True, workers: int | None = None, progress: bool = True
) -> SpecCheckReport:
    """Check every split of `spec`; decode=False checks names and pairs only."""
    report = SpecCheckReport(spec)
    jobs = []
    for split in spec.splits:
        files = split_files(spec, split)
        report.problems += files.problems
        report.notes += files.notes
        masks = files.masks or []
        report.counts[split] = Counter(
            images=files.found_images, masks=len(masks), paired=len(masks)
        )
        paired: list[str | None] = list(masks) if masks else [None] * len(files.images)
        jobs += [
            (spec, split, image, mask) for image, mask in zip(files.images, paired, strict=True)
        ]
    if decode and jobs:
        for split, problems, pixels, undeclared in parallel_map(
            _inspect_sample, jobs, workers, "reading files", progress
        ):
            report.problems += problems
            if pixels is not None:
                report.class_pixels[split] = report.class_pixels.get(split, 0) + pixels
            for value, count in undeclared:
                report.undeclared.setdefault(value, Counter()).update(pixels=count, files=1)
    return report


def _inspect_sample(
    job: tuple[DatasetSpec, str, str, str | None],
) -> tuple[str, list[Problem], np.ndarray | None, list[tuple[str, int]]]:
    spec, split, image_path, mask_path = job
    problems = []
    try:
        image_shape = read_image_file(image_path).shape[:2]
    except DataFileError as error:
        problems.append(Problem("unreadable image", image_path, _cause(error), _REREAD))
        image_shape = None
    if mask_path is None:
        return split, problems, None, []
    try:
        raw = read_mask_file(mask_path, palette_indices=spec.mask_format == "index")
    except DataFileError as error:
        return (
            split,
            problems + [Problem("unreadable mask", mask_path, _cause(error), _REREAD)],
            None,
            [],
        )
    try:
        train_ids = mask_to_train_ids(raw, spec, mask_path)
    except UndeclaredValuesError as error:
        detail = ", ".join(f"{value}: {count} px" for value, count in error.values)
        where = (
            "'palette' or 'ignore_colors'"
            if spec.mask_format == "color"
            else "'value_map' (or 'classes')"
        )
        problems.append(
            Problem(
                _UNDECLARED,
                mask_path,
                detail,
                f"declare the values in {where} of {spec.source}, or fix the masks",
            )
        )
        return split, problems, None, error.values
    except DataFileError as error:
        return (
            split,
            problems + [Problem("wrong mask format", mask_path, _cause(error), "re-save the mask")],
            None,
            [],
        )
    if image_shape is not None and train_ids.shape != image_shape:
        problems.append(
            Problem(
                "size mismatch",
                mask_path,
                f"mask {train_ids.shape} vs image {image_shape} (H, W)",
                "the pair does not belong together: fix the names or re-export the mask",
            )
        )
    return split, problems, class_pixel_counts(train_ids, spec.num_classes), []


def _cause(error: Exception) -> str:
    # The messages start with "<kind> file <path> ..."; the report prints the path already.
    text = str(error)
    path = getattr(error, "path", "")
    return text.split(f"{path} ", 1)[-1] if path and path in text else text


def _grouped(title: str, items: list[Problem]) -> list[str]:
    lines: list[str] = []
    groups: dict[tuple[str, str], list[Problem]] = {}
    for item in items:
        groups.setdefault((item.kind, item.fix), []).append(item)
    for (kind, fix), members in groups.items():
        lines.append(f"- {title}: {kind}: {len(members)} file(s)")
        lines += [f"    {member.path}: {member.detail}" for member in members[:_EXAMPLES]]
        if len(members) > _EXAMPLES:
            lines.append(f"    ... and {len(members) - _EXAMPLES} more")
        lines.append(f"  fix: {fix}")
    return lines
