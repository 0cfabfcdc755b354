"""`prepare describe`: find the image and mask folders of a dataset, scan the masks, and write a
starting dataset.json (class names class_0, class_1, ... for the user to rename).

Layouts recognised (folder names case-insensitive, e.g. images/JPEGImages/img_dir and
masks/labels/annotations/SegmentationClass/ann_dir):
    <images>/<split>/...  and  <masks>/<split>/...
    <split>/<images>/...  and  <split>/<masks>/...
    <images>/...          and  <masks>/...          (one split, "train")
Split folders named training/validation/valid/testing become train/val/test.
"""

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pointrend.data.decode import read_mask_file
from pointrend.data.errors import DataFileError, SpecError
from pointrend.data.pairing import walk_files
from pointrend.data.palette import Color, default_palette
from pointrend.data.parallel import parallel_map
from pointrend.data.spec import SPEC_FILE, DatasetSpec, SplitSpec
from pointrend.data.spec_write import write_spec

IMAGE_FOLDERS = ("images", "image", "imgs", "img", "img_dir", "jpegimages", "photos")
MASK_FOLDERS = ("masks", "mask", "labels", "label", "annotations", "annotation", "ann_dir", "gt",
                "groundtruth", "ground_truth", "segmentationclass")  # fmt: skip
SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val",
               "validation": "val", "test": "test", "testing": "test"}  # fmt: skip
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
# More colours than this in colour masks means they are not label masks (JPEG, anti-aliasing).
MAX_COLORS = 64
# Index masks whose largest value is below this are read as class ids, others get a value_map.
MAX_DIRECT_VALUE = 64
_BINARY = {0, 255}
_SPLIT_ORDER = ("train", "val", "test")
_USUAL_IGNORE_COLORS = ((0, 0, 0), (255, 255, 255))


@dataclass
class Description:
    spec: DatasetSpec
    path: str
    split_counts: dict[str, int]
    class_pixels: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def format(self) -> str:
        spec = self.spec
        lines = [f"wrote {self.path}: {spec.num_classes} classes from {spec.mask_format} masks"]
        for name, split in spec.splits.items():
            lines.append(
                f"  {name}: {self.split_counts[name]} images in {split.images}"
                + (f", masks in {split.masks}" if split.masks else " (no masks)")
            )
        lines += [f"  {name}: {pixels} px" for name, pixels in self.class_pixels.items()]
        lines += [f"note: {note}" for note in self.notes]
        lines.append(
            f"next: rename the classes in {self.path}, then run "
            f"`python -m pointrend.data.prepare check --root={spec.root}`"
        )
        return "\n".join(lines)


def describe_dataset(
    root: str,
    images: str | None = None,
    masks: str | None = None,
    overwrite: bool = False,
    workers: int | None = None,
    progress: bool = True,
) -> Description:
    """Scan `root` and write root/dataset.json; images/masks force the folders (one split)."""
    path = os.path.join(root, SPEC_FILE)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"dataset root {root} does not exist")
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists already; pass --overwrite to replace it, or edit it")
    found = _split_folders(root, images, masks)
    folders = {name: found[name] for name in sorted(found, key=_SPLIT_ORDER.index)}
    image_files = {
        name: _images_in(os.path.join(root, split_images))
        for name, (split_images, _) in folders.items()
    }
    suffix = _most_common(
        [os.path.splitext(f)[1].lower() for files in image_files.values() for f in files], root
    )
    mask_files = [
        m
        for name, (_, mask_dir) in folders.items()
        if mask_dir
        for m in walk_files(os.path.join(root, mask_dir))
    ]
    if not mask_files:
        raise FileNotFoundError(
            f"no mask files found under {root} (looked for folders named "
            f"{', '.join(MASK_FOLDERS)}); pass --masks=<folder relative to the root>"
        )
    mask_suffix = _mask_suffix(image_files, folders, mask_files, root)
    masks_read = parallel_map(
        _read_values,
        [m for m in mask_files if m.endswith(mask_suffix)],
        workers,
        "scanning masks",
        progress,
    )
    spec_fields, class_pixels, notes = _classes_from_masks(masks_read, root)
    splits = {
        name: SplitSpec(name, split_images, mask_dir)
        for name, (split_images, mask_dir) in folders.items()
    }
    spec = DatasetSpec(
        root=root,
        source=path,
        splits=splits,
        image_suffixes=(suffix,),
        mask_suffix=mask_suffix,
        **spec_fields,
    )
    write_spec(spec, path)
    counts = {name: len(files) for name, files in image_files.items()}
    return Description(spec, path, counts, class_pixels, notes)


def _split_folders(
    root: str, images: str | None, masks: str | None
) -> dict[str, tuple[str, str | None]]:
    """split name -> (image folder, mask folder or None), relative to root."""
    if images is not None:
        return {"train": (images, masks)}
    entries = _subfolders(root)
    image_dir = _first_named(entries, IMAGE_FOLDERS)
    mask_dir = _first_named(entries, MASK_FOLDERS)
    if image_dir is not None:
        split_dirs = {
            SPLIT_NAMES[d.lower()]: d
            for d in _subfolders(os.path.join(root, image_dir))
            if d.lower() in SPLIT_NAMES
        }
        if not split_dirs:
            return {"train": (image_dir, mask_dir)}
        result = {}
        for name, folder in split_dirs.items():
            mask_split = _mask_split_dir(root, mask_dir, folder)
            result[name] = (f"{image_dir}/{folder}", mask_split)
        return result
    result = {}
    for folder in entries:
        if folder.lower() not in SPLIT_NAMES:
            continue
        inside = _subfolders(os.path.join(root, folder))
        split_images, split_masks = (
            _first_named(inside, IMAGE_FOLDERS),
            _first_named(inside, MASK_FOLDERS),
        )
        if split_images:
            result[SPLIT_NAMES[folder.lower()]] = (
                f"{folder}/{split_images}",
                f"{folder}/{split_masks}" if split_masks else None,
            )
    if not result:
        raise FileNotFoundError(
            f"no image folder found in {root} (looked for {', '.join(IMAGE_FOLDERS)}, directly or "
            "inside train/val/test folders); pass --images=<folder> --masks=<folder> relative to "
            "the root"
        )
    return result


def _mask_split_dir(root: str, mask_dir: str | None, split_folder: str) -> str | None:
    if mask_dir is None:
        return None
    for folder in _subfolders(os.path.join(root, mask_dir)):
        if SPLIT_NAMES.get(folder.lower()) == SPLIT_NAMES[split_folder.lower()]:
            return f"{mask_dir}/{folder}"
    return None


def _subfolders(folder: str) -> list[str]:
    return sorted(
        name
        for name in os.listdir(folder)
        if os.path.isdir(os.path.join(folder, name)) and not name.startswith(".")
    )


def _first_named(entries: Sequence[str], names: Sequence[str]) -> str | None:
    lowered = {entry.lower(): entry for entry in entries}
    return next((lowered[name] for name in names if name in lowered), None)


def _images_in(folder: str) -> list[str]:
    return [path for path in walk_files(folder) if path.lower().endswith(IMAGE_EXTENSIONS)]


def _most_common(extensions: list[str], root: str) -> str:
    if not extensions:
        raise FileNotFoundError(
            f"no images ({'/'.join(IMAGE_EXTENSIONS)}) found in the image folders of {root}"
        )
    return Counter(extensions).most_common(1)[0][0]


def _mask_suffix(
    image_files: dict[str, list[str]],
    folders: dict[str, tuple[str, str | None]],
    mask_files: list[str],
    root: str,
) -> str:
    """The ending that turns an image stem into its mask name (".png", "_mask.png", ...)."""
    by_name: dict[str, list[str]] = {}
    for mask in mask_files:
        by_name.setdefault(os.path.basename(mask).split(".")[0].split("_")[0], []).append(
            os.path.basename(mask)
        )
    endings: Counter[str] = Counter()
    for files in image_files.values():
        for image in files[:200]:
            stem = os.path.splitext(os.path.basename(image))[0]
            for mask in by_name.get(stem.split(".")[0].split("_")[0], []):
                if mask.startswith(stem) and "." in mask[len(stem) :]:
                    endings[mask[len(stem) :]] += 1
    if not endings:
        raise FileNotFoundError(
            f"no mask in the mask folders of {root} is named after an image "
            "(image a.jpg -> mask a.png or a_mask.png); rename them so they pair"
        )
    return endings.most_common(1)[0][0]


def _read_values(path: str) -> tuple[str, str, dict]:
    """(path, "index" | "color" | error text, {value: pixels}) of one mask."""
    try:
        mask = read_mask_file(path)
    except DataFileError as error:
        return path, str(error), {}
    if mask.ndim == 2 and mask.dtype == np.uint8:
        counts = np.bincount(mask.ravel(), minlength=256)
        return path, "index", {int(v): int(counts[v]) for v in np.flatnonzero(counts)}
    if mask.ndim == 3 and mask.shape[2] in (3, 4) and mask.dtype == np.uint8:
        rgb = mask[..., 2::-1].reshape(-1, 3)
        colors, counts = np.unique(rgb, axis=0, return_counts=True)
        return (
            path,
            "color",
            {tuple(int(c) for c in color): int(n) for color, n in zip(colors, counts, strict=True)},
        )
    return (
        path,
        f"label file {path} has shape {mask.shape} and dtype {mask.dtype}: not an 8-bit mask",
        {},
    )


def _classes_from_masks(
    masks_read: list[tuple[str, str, dict]], root: str
) -> tuple[dict, dict[str, int], list[str]]:
    errors = [kind for _, kind, _ in masks_read if kind not in ("index", "color")]
    if errors:
        raise SpecError(
            os.path.join(root, SPEC_FILE),
            "(masks)",
            f"{len(errors)} mask(s) cannot be used, e.g. {errors[0]}",
        )
    kinds = {kind: path for path, kind, _ in masks_read}
    if len(kinds) > 1:
        raise SpecError(
            os.path.join(root, SPEC_FILE),
            "mask_format",
            f"masks are mixed: {kinds['index']} is single-channel, {kinds['color']} is colour; "
            "save all masks the same way",
        )
    totals: Counter = Counter()
    for _, _, values in masks_read:
        totals.update(values)
    if "color" in kinds:
        return _color_classes(totals, kinds["color"], masks_read)
    return _index_classes(totals)


def _color_classes(
    totals: Counter, example: str, masks_read
) -> tuple[dict, dict[str, int], list[str]]:
    if len(totals) > MAX_COLORS:
        worst = max(masks_read, key=lambda item: len(item[2]))[0]
        raise SpecError(
            example,
            "(masks)",
            f"the colour masks hold {len(totals)} distinct colours ({worst} "
            f"alone {len(max(masks_read, key=lambda item: len(item[2]))[2])}): label masks must be "
            "saved losslessly (PNG) without anti-aliasing",
        )
    colors: list[Color] = sorted(totals)
    names = tuple(f"class_{index}" for index in range(len(colors)))
    fields = {"class_names": names, "palette": tuple(colors), "mask_format": "color"}
    pixels = {
        f"{name} {list(color)}": totals[color] for name, color in zip(names, colors, strict=True)
    }
    notes = [
        f"if {list(color)} ({names[colors.index(color)]}) means 'not labelled', move it from "
        "'palette' to 'ignore_colors' and drop its class name"
        for color in _USUAL_IGNORE_COLORS
        if color in totals
    ]
    return fields, pixels, notes


def _index_classes(totals: Counter) -> tuple[dict, dict[str, int], list[str]]:
    values = sorted(totals)
    notes = []
    value_map = None
    if set(values) == _BINARY:
        value_map = {0: 0, 255: 1}
        notes.append(
            "masks hold only 0 and 255: read as two classes (0 -> class_0, 255 -> class_1)"
        )
        raw_of_class = [0, 255]
    else:
        if 255 in totals:
            notes.append(
                f"value 255 ({totals[255]} px) is read as 'not labelled' (ignore_index 255)"
            )
        labels = [value for value in values if value != 255]
        if labels and labels[-1] < MAX_DIRECT_VALUE:
            raw_of_class = list(range(labels[-1] + 1))
            absent = [value for value in raw_of_class if value not in totals]
            if absent:
                notes.append(f"values {absent} never occur: their classes get no pixels")
        else:
            raw_of_class = labels
            value_map = {value: index for index, value in enumerate(labels)}
            if 255 in totals:
                value_map[255] = 255
            notes.append(
                f"mask values {labels} are mapped to classes 0..{len(labels) - 1} (value_map)"
            )
    names = tuple(f"class_{index}" for index in range(len(raw_of_class)))
    fields = {
        "class_names": names,
        "palette": default_palette(len(names)),
        "mask_format": "index",
        "value_map": value_map,
    }
    pixels = {
        f"{name} (value {raw})": totals.get(raw, 0)
        for name, raw in zip(names, raw_of_class, strict=True)
    }
    return fields, pixels, notes
