"""Where the files of a Cityscapes-format dataset live, and how images are paired with labels.

Official layout, relative to the dataset root:
    leftImg8bit/<split>/<city>/<frame>_leftImg8bit.png
    gtFine/<split>/<city>/<frame>_gtFine_labelIds.png        (official release)
    gtFine/<split>/<city>/<frame>_gtFine_labelTrainIds.png   (written by `prepare trainids`)
List files hold one sample per line, paths relative to the root: `image<sep>label`, or just
`image` for unlabelled splits.
"""

import glob
import os
from collections.abc import Sequence

IMAGE_DIR = "leftImg8bit"
LABEL_DIR = "gtFine"
IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_ID_SUFFIX = "_gtFine_labelIds.png"
TRAIN_ID_SUFFIX = "_gtFine_labelTrainIds.png"
SPLITS = ("train", "val", "test")

PREPARE_TRAIN_IDS = "python -m pointrend.data.prepare trainids --root={root}"
PREPARE_LISTS = "python -m pointrend.data.prepare lists --root={root}"
_MAX_LISTED = 5
_SEPARATORS = (",", " ", "\t", ";")


def image_paths_in_split(root: str, split: str) -> list[str]:
    """Sorted image paths of one split of the official layout (empty if the split has none)."""
    return sorted(glob.glob(os.path.join(root, IMAGE_DIR, split, "*", "*" + IMAGE_SUFFIX)))


def label_paths_in_split(root: str, split: str, suffix: str) -> list[str]:
    return sorted(glob.glob(os.path.join(root, LABEL_DIR, split, "*", "*" + suffix)))


def label_path_for(image_path: str, root: str, suffix: str = TRAIN_ID_SUFFIX) -> str:
    """The label file that belongs to `image_path` in the official layout."""
    relative = os.path.relpath(image_path, os.path.join(root, IMAGE_DIR))
    return os.path.join(root, LABEL_DIR, relative[: -len(IMAGE_SUFFIX)] + suffix)


def image_path_for(label_path: str, root: str, suffix: str) -> str:
    relative = os.path.relpath(label_path, os.path.join(root, LABEL_DIR))
    return os.path.join(root, IMAGE_DIR, relative[: -len(suffix)] + IMAGE_SUFFIX)


def city_of(path: str) -> str:
    return os.path.basename(os.path.dirname(path))


def check_root(root: str) -> None:
    if not os.path.isdir(root):
        raise FileNotFoundError(
            f"dataset root {root} does not exist; point `root` at the folder that contains "
            f"{IMAGE_DIR}/ and {LABEL_DIR}/, or generate a synthetic one with `python -m "
            f"pointrend.data.synthetic --root {root}`"
        )


def official_layout_samples(
    root: str, split: str, labelled: bool, label_suffix: str = TRAIN_ID_SUFFIX
) -> tuple[list[str], list[str] | None]:
    """(image paths, label paths or None) of one split, validated: every image has its label and
    every label its image, and the split is not empty."""
    check_root(root)
    split_dir = os.path.join(root, IMAGE_DIR, split)
    if not os.path.isdir(split_dir):
        image_dir = os.path.join(root, IMAGE_DIR)
        present = sorted(os.listdir(image_dir)) if os.path.isdir(image_dir) else []
        raise FileNotFoundError(
            f"split folder {split_dir} does not exist (splits found under {root}/{IMAGE_DIR}: "
            f"{present or 'none'}); pass one of those as `split`, or check that `root` is the "
            "Cityscapes root folder"
        )
    images = image_paths_in_split(root, split)
    if not images:
        raise ValueError(
            f"split '{split}' is empty: no *{IMAGE_SUFFIX} files in {split_dir}/<city>/; "
            "extract leftImg8bit_trainvaltest.zip into the dataset root"
        )
    if not labelled:
        return images, None
    labels = [label_path_for(path, root, label_suffix) for path in images]
    missing = [label for label in labels if not os.path.isfile(label)]
    if missing:
        raise FileNotFoundError(
            _missing_labels_message(root, split, missing, len(images), label_suffix)
        )
    orphans = sorted(set(label_paths_in_split(root, split, label_suffix)) - set(labels))
    if orphans:
        raise FileNotFoundError(
            f"{len(orphans)} label file(s) of split '{split}' have no image, e.g. "
            f"{_first(orphans)}; restore the missing *{IMAGE_SUFFIX} files (expected e.g. "
            f"{image_path_for(orphans[0], root, label_suffix)}) or remove the stray labels"
        )
    return images, labels


def _missing_labels_message(
    root: str, split: str, missing: list[str], total: int, suffix: str
) -> str:
    head = (
        f"{len(missing)} of {total} images of split '{split}' have no label file, "
        f"e.g. {_first(missing)}"
    )
    if suffix == TRAIN_ID_SUFFIX:
        label_ids = [path[: -len(suffix)] + LABEL_ID_SUFFIX for path in missing]
        if all(os.path.isfile(path) for path in label_ids):
            return (
                f"{head}; the official *{LABEL_ID_SUFFIX} files are there: convert them with "
                f"`{PREPARE_TRAIN_IDS.format(root=root)}`"
            )
    return (
        f"{head}; extract gtFine_trainvaltest.zip into the dataset root and run "
        f"`{PREPARE_TRAIN_IDS.format(root=root)}`, or pass labelled=False for an unlabelled split"
    )


def read_list_file(
    list_file: str, root: str, separator: str = ",", labelled: bool | None = None
) -> tuple[list[str], list[str] | None]:
    """Parse and validate a list file -> (image paths, label paths or None), paths joined to `root`.

    `labelled=None` infers it from the first line (two fields: labelled, one field: images only).
    """
    check_root(root)
    path = list_file if os.path.isfile(list_file) else os.path.join(root, list_file)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"list file {list_file} does not exist (also looked for {path}); "
            f"write the lists with `{PREPARE_LISTS.format(root=root)}`"
        )
    with open(path, encoding="utf-8") as handle:
        lines = [(number, line.strip()) for number, line in enumerate(handle, 1) if line.strip()]
    if not lines:
        raise ValueError(
            f"list file {path} is empty; write the lists with `{PREPARE_LISTS.format(root=root)}`"
        )
    if labelled is None:
        labelled = len(split_fields(lines[0][1], separator)) >= 2 or _splits_in_two_otherwise(
            lines[0][1], separator
        )
    expected = 2 if labelled else 1
    rows = []
    for number, line in lines:
        fields = split_fields(line, separator)
        if len(fields) != expected:
            raise ValueError(_wrong_fields_message(path, number, line, separator, expected))
        rows.append(fields)
    images = [os.path.join(root, row[0]) for row in rows]
    labels = [os.path.join(root, row[1]) for row in rows] if labelled else None
    if labels is not None and labels[0].endswith(LABEL_ID_SUFFIX):
        raise ValueError(
            f"list file {path} points at *{LABEL_ID_SUFFIX} files (line {lines[0][0]}: "
            f"{labels[0]}); training needs trainIds: run `{PREPARE_TRAIN_IDS.format(root=root)}` "
            f"then `{PREPARE_LISTS.format(root=root)}`"
        )
    missing = []
    paired: list[str | None] = list(labels) if labels else [None] * len(images)
    for (number, _), image, label in zip(lines, images, paired, strict=True):
        missing += [(number, p) for p in (image, label) if p is not None and not os.path.isfile(p)]
    if missing:
        examples = ", ".join(f"line {number}: {p}" for number, p in missing[:_MAX_LISTED])
        raise FileNotFoundError(
            f"list file {path} names {len(missing)} file(s) that do not exist ({examples}); paths "
            f"must be relative to the dataset root {root}: fix `root` or regenerate the lists with "
            f"`{PREPARE_LISTS.format(root=root)}`"
        )
    return images, labels


def split_fields(line: str, separator: str) -> list[str]:
    # A whitespace separator means "any run of whitespace", as in the earlier Paddle lists.
    parts = line.split() if separator.isspace() else line.split(separator)
    return [part.strip() for part in parts]


def _splits_in_two_otherwise(line: str, separator: str) -> bool:
    # An `image label` line read with the wrong separator looks like a single (nonexistent) path.
    return any(len(split_fields(line, other)) == 2 for other in _SEPARATORS if other != separator)


def _wrong_fields_message(path: str, number: int, line: str, separator: str, expected: int) -> str:
    head = (
        f"list file {path}, line {number}: {line!r} does not split into {expected} field(s) "
        f"with separator {separator!r}"
    )
    for candidate in _SEPARATORS:
        if candidate != separator and len(split_fields(line, candidate)) == expected:
            return f"{head}; the file seems to use {candidate!r}: pass separator={candidate!r}"
    if expected == 2:
        return (
            f"{head}; each line needs `image{separator}label` (or pass labelled=False for an "
            "image-only list)"
        )
    return f"{head}; each line of an unlabelled list holds one image path"


def _first(paths: Sequence[str]) -> str:
    return ", ".join(paths[:_MAX_LISTED]) + (" ..." if len(paths) > _MAX_LISTED else "")


def write_list_file(
    root: str,
    split: str,
    separator: str = ",",
    labelled: bool | None = None,
    output_dir: str | None = None,
) -> str:
    """Write `<split>.txt` for a split of the official layout; returns its path.

    Labelled splits (default: all but "test") need their trainId files; a missing one raises.
    """
    labelled = split != "test" if labelled is None else labelled
    images, labels = official_layout_samples(root, split, labelled)
    rows = [
        [os.path.relpath(path, root) for path in row]
        for row in zip(images, *([labels] if labels else []), strict=True)
    ]
    path = os.path.join(output_dir or root, f"{split}.txt")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(separator.join(row).replace(os.sep, "/") + "\n" for row in rows)
    return path
