"""Write a DatasetSpec back as dataset.json (the format spec_parse.py reads)."""

import json
import os
import re
from typing import Any

from pointrend.data.spec import DatasetSpec


def spec_to_dict(spec: DatasetSpec) -> dict[str, Any]:
    """The JSON object of a spec; optional fields only when set."""
    raw: dict[str, Any] = {"classes": list(spec.class_names)}
    if spec.palette is not None:
        raw["palette"] = [list(color) for color in spec.palette]
    raw["ignore_index"] = spec.ignore_index
    raw["mask_format"] = spec.mask_format
    if spec.ignore_colors:
        raw["ignore_colors"] = [list(color) for color in spec.ignore_colors]
    if spec.value_map is not None:
        raw["value_map"] = {str(value): target for value, target in sorted(spec.value_map.items())}
    raw["image_suffix"] = (
        spec.image_suffixes[0] if len(spec.image_suffixes) == 1 else list(spec.image_suffixes)
    )
    raw["mask_suffix"] = spec.mask_suffix
    raw["list_separator"] = spec.list_separator
    raw["splits"] = {}
    for name, split in spec.splits.items():
        fields = {"images": split.images, "masks": split.masks, "list": split.list_file}
        raw["splits"][name] = {key: value for key, value in fields.items() if value is not None}
    return raw


def write_spec(spec: DatasetSpec, path: str) -> str:
    """Write `spec` as JSON to `path` (2-space indent, one colour per line); returns the path."""
    text = json.dumps(spec_to_dict(spec), indent=2)
    # One [R, G, B] per line instead of one number per line keeps palettes readable.
    text = _inline_colors(text)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    return path


def _inline_colors(text: str) -> str:
    return re.sub(r"\[\s+(\d+),\s+(\d+),\s+(\d+)\s+\]", r"[\1, \2, \3]", text)
