"""Read and validate dataset.json into a DatasetSpec; every mistake is a SpecError naming the field.

{
  "classes": ["background", "crack", "pothole"],
  "palette": [[0, 0, 0], [255, 0, 0], [0, 0, 255]],       optional (RGB); needed by colour masks
  "ignore_index": 255,                                     optional, default 255
  "mask_format": "index",                                  "index" (default) or "color"
  "ignore_colors": [[255, 255, 255]],                      optional, colour masks only
  "value_map": {"0": 0, "128": 1, "255": 2},               optional raw value -> class index
  "image_suffix": ".jpg",                                  optional, a suffix or a list
  "mask_suffix": ".png",                                   optional, default ".png"
  "list_separator": ",",                                   optional, for list files
  "splits": {
    "train": {"images": "images/train", "masks": "masks/train"},
    "val": {"list": "val.txt"},
    "test": {"images": "images/test"}
  }
}
"""

import difflib
import json
import os
from typing import Any

from pointrend.data.errors import SpecError
from pointrend.data.palette import Color
from pointrend.data.spec import (
    DEFAULT_IMAGE_SUFFIXES,
    MASK_FORMATS,
    SPEC_FILE,
    DatasetSpec,
    SplitSpec,
)

_TOP_FIELDS = (
    "classes", "palette", "ignore_index", "mask_format", "ignore_colors", "value_map",
    "image_suffix", "mask_suffix", "list_separator", "splits",
)  # fmt: skip
_SPLIT_FIELDS = ("images", "masks", "list")


def read_spec(root: str, path: str | None = None) -> DatasetSpec:
    """The DatasetSpec of the dataset in `root`, from `path` (default: root/dataset.json)."""
    path = path or os.path.join(root, SPEC_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except FileNotFoundError:
        raise SpecError(
            path,
            "(file)",
            "does not exist; write a starting one with "
            f"`python -m pointrend.data.prepare describe --root={root}`",
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SpecError(path, "(file)", f"is not valid JSON ({error})") from None
    return parse_spec(raw, root, path)


def parse_spec(raw: Any, root: str, source: str) -> DatasetSpec:
    """Validate the decoded JSON of a dataset description (see the module docstring)."""
    if not isinstance(raw, dict):
        raise SpecError(source, "(file)", f"must hold a JSON object, not {type(raw).__name__}")
    _reject_unknown(raw, _TOP_FIELDS, source, "")
    classes = _class_names(raw.get("classes"), source)
    ignore_index = _ignore_index(raw.get("ignore_index", 255), len(classes), source)
    mask_format = raw.get("mask_format", "index")
    if mask_format not in MASK_FORMATS:
        raise SpecError(
            source, "mask_format", f"is {mask_format!r}; use one of {list(MASK_FORMATS)}"
        )
    palette = None
    if raw.get("palette") is not None:
        palette = _colors(raw["palette"], source, "palette")
        if len(palette) != len(classes):
            raise SpecError(
                source,
                "palette",
                f"has {len(palette)} colours for {len(classes)} classes; "
                "give one [R, G, B] per class, in the order of 'classes'",
            )
        _reject_duplicates(palette, source, "palette")
    ignore_colors = _colors(raw.get("ignore_colors", []), source, "ignore_colors")
    if mask_format == "color":
        if palette is None:
            raise SpecError(
                source,
                "palette",
                "is required when mask_format is 'color': the palette "
                "says which colour is which class",
            )
        clash = sorted(set(palette) & set(ignore_colors))
        if clash:
            raise SpecError(
                source, "ignore_colors", f"{list(clash[0])} is also a class colour in 'palette'"
            )
        if raw.get("value_map") is not None:
            raise SpecError(
                source, "value_map", "applies to index masks; colour masks map through 'palette'"
            )
    elif ignore_colors:
        raise SpecError(
            source, "ignore_colors", "applies to colour masks (mask_format 'color') only"
        )
    value_map = _value_map(raw.get("value_map"), len(classes), ignore_index, source)
    return DatasetSpec(
        root=root,
        source=source,
        class_names=classes,
        splits=_splits(raw.get("splits"), source),
        ignore_index=ignore_index,
        palette=palette,
        ignore_colors=ignore_colors,
        mask_format=mask_format,
        value_map=value_map,
        image_suffixes=_suffixes(raw.get("image_suffix", list(DEFAULT_IMAGE_SUFFIXES)), source),
        mask_suffix=_suffixes(raw.get("mask_suffix", ".png"), source, "mask_suffix", single=True)[
            0
        ],
        list_separator=_string(raw.get("list_separator", ","), source, "list_separator"),
    )


def _reject_unknown(raw: dict[str, Any], known: tuple[str, ...], source: str, prefix: str) -> None:
    for key in raw:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            advice = f"did you mean '{close[0]}'?" if close else f"known fields: {', '.join(known)}"
            raise SpecError(source, prefix + key, f"is not a known field; {advice}")


def _class_names(value: Any, source: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise SpecError(
            source,
            "classes",
            'must be a non-empty list of class names, e.g. ["background", "crack"]',
        )
    for index, name in enumerate(value):
        if not isinstance(name, str) or not name.strip():
            raise SpecError(
                source, f"classes[{index}]", f"is {name!r}; class names are non-empty strings"
            )
    _reject_duplicates(value, source, "classes")
    if len(value) > 255:
        raise SpecError(
            source, "classes", f"has {len(value)} names; at most 255 classes fit 8-bit masks"
        )
    return tuple(value)


def _ignore_index(value: Any, num_classes: int, source: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 255:
        raise SpecError(
            source, "ignore_index", f"is {value!r}; it must be an integer 0..255 (usually 255)"
        )
    if value < num_classes:
        raise SpecError(
            source,
            "ignore_index",
            f"is {value}, which is class '{value}' of {num_classes} "
            f"classes; use a value >= {num_classes} (usually 255)",
        )
    return value


def _colors(value: Any, source: str, name: str) -> tuple[Color, ...]:
    if not isinstance(value, list):
        raise SpecError(source, name, "must be a list of [R, G, B] colours")
    colors = []
    for index, color in enumerate(value):
        if (
            not isinstance(color, list)
            or len(color) != 3
            or not all(
                isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in color
            )
        ):
            raise SpecError(
                source, f"{name}[{index}]", f"is {color!r}; a colour is [R, G, B] with 0..255"
            )
        colors.append((color[0], color[1], color[2]))
    return tuple(colors)


def _reject_duplicates(values: Any, source: str, name: str) -> None:
    seen = set()
    for index, value in enumerate(values):
        if value in seen:
            raise SpecError(
                source, f"{name}[{index}]", f"{value!r} appears twice; entries must differ"
            )
        seen.add(value)


def _value_map(
    value: Any, num_classes: int, ignore_index: int, source: str
) -> dict[int, int] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        raise SpecError(
            source, "value_map", 'must be an object of "raw value": class index, e.g. {"128": 1}'
        )
    mapping = {}
    for key, target in value.items():
        try:
            raw = int(key)
        except ValueError:
            raw = -1
        if not 0 <= raw <= 255:
            raise SpecError(source, f"value_map[{key!r}]", "keys are raw mask values 0..255")
        valid = isinstance(target, int) and not isinstance(target, bool)
        if not valid or not (0 <= target < num_classes or target == ignore_index):
            raise SpecError(
                source,
                f"value_map[{key!r}]",
                f"is {target!r}; map to a class index "
                f"0..{num_classes - 1} or to ignore_index {ignore_index}",
            )
        mapping[raw] = target
    return mapping


def _suffixes(
    value: Any, source: str, name: str = "image_suffix", single: bool = False
) -> tuple[str, ...]:
    values: list[Any] = [value] if isinstance(value, str) or single else value
    if not isinstance(values, list) or not values:
        raise SpecError(source, name, 'must be a suffix such as ".jpg" or a list of them')
    for suffix in values:
        if not isinstance(suffix, str) or "." not in suffix or "/" in suffix:
            raise SpecError(
                source, name, f"{suffix!r} is not a file-name ending such as '.png' or '_mask.png'"
            )
    return tuple(values)


def _string(value: Any, source: str, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise SpecError(source, name, f"is {value!r}; give a non-empty string")
    return value


def _splits(value: Any, source: str) -> dict[str, SplitSpec]:
    if not isinstance(value, dict) or not value:
        raise SpecError(
            source,
            "splits",
            'must name at least one split, e.g. {"train": {"images": '
            '"images/train", "masks": "masks/train"}}',
        )
    splits = {}
    for name, fields in value.items():
        if not isinstance(fields, dict):
            raise SpecError(
                source, f"splits.{name}", 'must be an object with "images" (+ "masks") or "list"'
            )
        _reject_unknown(fields, _SPLIT_FIELDS, source, f"splits.{name}.")
        for key, folder in fields.items():
            if not isinstance(folder, str) or not folder or os.path.isabs(folder):
                raise SpecError(
                    source,
                    f"splits.{name}.{key}",
                    f"is {folder!r}; give a path relative to the dataset root",
                )
        if "list" in fields and ("images" in fields or "masks" in fields):
            raise SpecError(
                source, f"splits.{name}", 'give either "list" or "images"/"masks", not both'
            )
        if "list" not in fields and "images" not in fields:
            raise SpecError(
                source, f"splits.{name}.images", 'is missing (or give "list": a list file)'
            )
        splits[name] = SplitSpec(
            name, fields.get("images"), fields.get("masks"), fields.get("list")
        )
    return splits
