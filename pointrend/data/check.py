"""Validate a Cityscapes-format dataset root and say exactly what to fix."""

import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from pointrend.data.check_spec import class_pixel_counts, frequency_lines
from pointrend.data.classes import (
    CITYSCAPES_CLASSES,
    IGNORE_INDEX,
    NUM_CLASSES,
    invalid_label_values,
)
from pointrend.data.image_io import read_image, read_label
from pointrend.data.layout import (
    IMAGE_DIR,
    IMAGE_SUFFIX,
    LABEL_DIR,
    LABEL_ID_SUFFIX,
    PREPARE_LISTS,
    PREPARE_TRAIN_IDS,
    SPLITS,
    TRAIN_ID_SUFFIX,
    check_root,
    city_of,
    image_path_for,
    image_paths_in_split,
    label_path_for,
    label_paths_in_split,
    read_list_file,
)
from pointrend.data.parallel import parallel_map
from pointrend.data.problems import Problem

_EXAMPLES = 3


@dataclass
class CheckReport:
    root: str
    counts: dict[tuple[str, str], Counter] = field(
        default_factory=dict
    )  # (split, city) -> file counts
    problems: list[Problem] = field(default_factory=list)
    # split -> pixels per trainId (19 classes, then the ignored pixels), of labels without problems
    class_pixels: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def format(self) -> str:
        lines = [f"{'split':<6} {'city':<24} {'images':>7} {'trainIds':>9} {'labelIds':>9}"]
        totals: dict[str, Counter] = defaultdict(Counter)
        for (split, city), count in sorted(
            self.counts.items(), key=lambda item: (SPLITS.index(item[0][0]), item[0][1])
        ):
            lines.append(
                f"{split:<6} {city:<24} {count['images']:>7} {count['trainIds']:>9} "
                f"{count['labelIds']:>9}"
            )
            totals[split].update(count)
        for split, count in totals.items():
            lines.append(
                f"{split:<6} {'(all cities)':<24} {count['images']:>7} {count['trainIds']:>9} "
                f"{count['labelIds']:>9}"
            )
        if self.class_pixels:
            lines += frequency_lines(CITYSCAPES_CLASSES, self.class_pixels)
        if self.ok:
            lines.append(f"OK: no problems found in {self.root}")
            return "\n".join(lines)
        groups: dict[tuple[str, str], list[Problem]] = defaultdict(list)
        for problem in self.problems:
            groups[(problem.kind, problem.fix)].append(problem)
        lines.append(f"{len(self.problems)} problem(s) in {self.root}:")
        for (kind, fix), problems in groups.items():
            lines.append(f"- {kind}: {len(problems)} file(s)")
            lines += [f"    {p.path}: {p.detail}" for p in problems[:_EXAMPLES]]
            if len(problems) > _EXAMPLES:
                lines.append(f"    ... and {len(problems) - _EXAMPLES} more")
            lines.append(f"  fix: {fix}")
        return "\n".join(lines)


def check_dataset(
    root: str, decode: bool = True, workers: int | None = None, progress: bool = True
) -> CheckReport:
    """Count files per split and city and collect every problem: missing pairs, stray labels,
    unreadable files, image/label size mismatches, label values outside {0..18, 255}, broken
    list files. `decode=False` skips reading the pixels (names and pairs only)."""
    check_root(root)
    report = CheckReport(root)
    splits = [
        s
        for s in SPLITS
        if any(os.path.isdir(os.path.join(root, d, s)) for d in (IMAGE_DIR, LABEL_DIR))
    ]
    if not splits:
        report.problems.append(
            Problem(
                "no splits",
                root,
                f"neither {IMAGE_DIR}/<split> nor {LABEL_DIR}/<split> exists for "
                f"{', '.join(SPLITS)}",
                f"point --root at the folder that contains {IMAGE_DIR}/ and {LABEL_DIR}/",
            )
        )
    jobs = []
    for split in splits:
        jobs += _check_split_files(root, split, report)
    if decode and jobs:
        for (_, _, _, split), (problems, pixels) in zip(
            jobs,
            parallel_map(_inspect_pair, jobs, workers, "reading files", progress),
            strict=False,
        ):
            report.problems += [Problem(*problem) for problem in problems]
            if pixels is not None:
                report.class_pixels[split] = report.class_pixels.get(split, 0) + pixels
    for split in SPLITS:
        _check_list_file(root, split, report)
    return report


def _check_split_files(
    root: str, split: str, report: CheckReport
) -> list[tuple[str, str | None, str, str]]:
    """Count and pair the files of one split; returns (image, label or None, root, split) jobs to
    decode."""
    images = image_paths_in_split(root, split)
    train_ids = label_paths_in_split(root, split, TRAIN_ID_SUFFIX)
    label_ids = label_paths_in_split(root, split, LABEL_ID_SUFFIX)
    for kind, paths in (("images", images), ("trainIds", train_ids), ("labelIds", label_ids)):
        for path in paths:
            report.counts.setdefault((split, city_of(path)), Counter())[kind] += 1
    if not images:
        report.problems.append(
            Problem(
                "empty split",
                os.path.join(root, IMAGE_DIR, split),
                f"no *{IMAGE_SUFFIX} files in <city>/ folders",
                "extract leftImg8bit_trainvaltest.zip into the dataset root",
            )
        )
    labelled = split != "test"
    train_id_set, label_id_set, image_set = set(train_ids), set(label_ids), set(images)
    jobs: list[tuple[str, str | None, str, str]] = []
    for image in images:
        label = label_path_for(image, root, TRAIN_ID_SUFFIX)
        if not labelled:
            jobs.append((image, None, root, split))
        elif label in train_id_set:
            jobs.append((image, label, root, split))
        elif label_path_for(image, root, LABEL_ID_SUFFIX) in label_id_set:
            report.problems.append(
                Problem(
                    "trainIds not generated",
                    label,
                    "missing; its labelIds file is there",
                    f"run `{PREPARE_TRAIN_IDS.format(root=root)}`",
                )
            )
        else:
            report.problems.append(
                Problem(
                    "image without label",
                    image,
                    f"no {label}",
                    "extract gtFine_trainvaltest.zip into the dataset root (or remove the image)",
                )
            )
    for suffix, labels in ((TRAIN_ID_SUFFIX, train_ids), (LABEL_ID_SUFFIX, label_ids)):
        for label in labels:
            image = image_path_for(label, root, suffix)
            if image not in image_set:
                report.problems.append(
                    Problem(
                        "label without image",
                        label,
                        f"no {image}",
                        "extract leftImg8bit_trainvaltest.zip into the dataset root "
                        "(or remove the stray label)",
                    )
                )
    return jobs


def _inspect_pair(
    job: tuple[str, str | None, str, str],
) -> tuple[list[tuple[str, str, str, str]], np.ndarray | None]:
    """(problems, trainId pixel counts or None) of one image and its label."""
    image_path, label_path, root, _ = job
    problems = []
    reread = "re-extract or re-download the file"
    try:
        image_shape = read_image(image_path).shape[:2]
    except ValueError:
        problems.append(
            ("unreadable image", image_path, "cannot be decoded (corrupt or truncated)", reread)
        )
        image_shape = None
    if label_path is None:
        return problems, None
    try:
        label = read_label(label_path)
    except ValueError as error:
        problems.append(("unreadable label", label_path, str(error).split(";")[0], reread))
        return problems, None
    if image_shape is not None and label.shape != image_shape:
        problems.append(
            (
                "size mismatch",
                label_path,
                f"label {label.shape} vs image {image_shape} (H, W)",
                "the pair does not belong together: re-extract both files",
            )
        )
    invalid = invalid_label_values(label)
    if invalid.size:
        problems.append(
            (
                f"label values outside 0..{NUM_CLASSES - 1} and {IGNORE_INDEX}",
                label_path,
                f"values {invalid.tolist()[:8]} (labelIds saved under the trainIds name?)",
                f"delete the *{TRAIN_ID_SUFFIX} files and run "
                f"`{PREPARE_TRAIN_IDS.format(root=root)}`",
            )
        )
        return problems, None
    return problems, class_pixel_counts(label, NUM_CLASSES)


def _check_list_file(root: str, split: str, report: CheckReport) -> None:
    path = os.path.join(root, f"{split}.txt")
    if not os.path.isfile(path):
        return
    try:
        read_list_file(path, root, separator=",")
    except (ValueError, FileNotFoundError) as error:
        report.problems.append(
            Problem(
                "broken list file",
                path,
                str(error).split("; ")[0],
                f"regenerate it with `{PREPARE_LISTS.format(root=root)}`",
            )
        )
