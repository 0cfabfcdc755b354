"""Raw mask pixels -> train ids (class index or ignore index), through the spec's declared values.

Index masks: a value v is class v (or whatever value_map says); colour masks: a colour is the
class whose palette entry it is. Anything not declared is an error naming the file, the values
and how many pixels hold each: a silently ignored value would bias the metrics.
"""

import numpy as np

from pointrend.data.errors import DataFileError
from pointrend.data.spec import SPEC_FILE, DatasetSpec

_UNDECLARED = -1
_LISTED = 8


def train_id_table(spec: DatasetSpec) -> np.ndarray:
    """int16 [256]: raw index-mask value -> train id, -1 for values the spec does not declare."""
    table = np.full(256, _UNDECLARED, dtype=np.int16)
    if spec.value_map is not None:
        for value, train_id in spec.value_map.items():
            table[value] = train_id
    else:
        table[: spec.num_classes] = np.arange(spec.num_classes)
        table[spec.ignore_index] = spec.ignore_index
    return table


def mask_to_train_ids(mask: np.ndarray, spec: DatasetSpec, path: str) -> np.ndarray:
    """Raw decoded mask ([H, W] index or [H, W, 3|4] BGR[A] colour) -> uint8 train ids [H, W]."""
    if spec.mask_format == "color":
        return _colors_to_train_ids(_as_color_mask(mask, spec, path), spec, path)
    raw = _as_index_mask(mask, spec, path)
    train_ids = train_id_table(spec)[raw]
    _raise_if_undeclared(train_ids, raw, spec, path)
    return train_ids.astype(np.uint8)


def undeclared_values(mask: np.ndarray, spec: DatasetSpec, path: str) -> list[tuple[str, int]]:
    """(value or colour as text, pixel count) of every undeclared value in a raw mask, most
    first."""
    try:
        mask_to_train_ids(mask, spec, path)
    except UndeclaredValuesError as error:
        return error.values
    return []


class UndeclaredValuesError(DataFileError):
    def __init__(self, path: str, message: str, values: list[tuple[str, int]]) -> None:
        super().__init__(path, message)
        self.values = values

    def __reduce__(self):
        return type(self), (self.path, str(self), self.values)


def _as_index_mask(mask: np.ndarray, spec: DatasetSpec, path: str) -> np.ndarray:
    if mask.ndim == 3 and mask.shape[2] in (3, 4):
        raise DataFileError(
            path,
            (
                f"label file {path} is not a single-channel 8-bit PNG (shape {mask.shape}, dtype "
                f"{mask.dtype}): it stores colours, but {_spec_name(spec)} declares index masks "
                "(one class id per pixel); "
                'convert the masks, or declare "mask_format": "color" with a palette'
            ),
        )
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise DataFileError(
            path,
            (
                f"label file {path} is not a single-channel 8-bit PNG (shape {mask.shape}, dtype "
                f"{mask.dtype}); masks must store one class id per pixel in 8 bits: re-save it as "
                "an 8-bit grey PNG"
            ),
        )
    return mask


def _as_color_mask(mask: np.ndarray, spec: DatasetSpec, path: str) -> np.ndarray:
    if mask.ndim != 3 or mask.shape[2] not in (3, 4) or mask.dtype != np.uint8:
        raise DataFileError(
            path,
            (
                f"label file {path} is not an 8-bit colour PNG (shape {mask.shape}, dtype "
                f"{mask.dtype}) but {_spec_name(spec)} declares colour masks; re-save it in RGB, "
                "or declare "
                '"mask_format": "index" if it stores class ids'
            ),
        )
    return mask[..., :3]


def _colors_to_train_ids(bgr: np.ndarray, spec: DatasetSpec, path: str) -> np.ndarray:
    keys = _color_keys(bgr[..., ::-1])
    declared = [(_color_key(color), index) for index, color in enumerate(spec.colors)]
    declared += [(_color_key(color), spec.ignore_index) for color in spec.ignore_colors]
    declared.sort()
    sorted_keys = np.array([key for key, _ in declared], dtype=np.int64)
    train_ids = np.array([train_id for _, train_id in declared], dtype=np.uint8)
    position = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    known = sorted_keys[position] == keys
    if not known.all():
        colors, counts = np.unique(keys[~known], return_counts=True)
        values = [
            (str(_key_color(int(key))), int(count))
            for key, count in zip(colors, counts, strict=True)
        ]
        values.sort(key=lambda item: -item[1])
        raise UndeclaredValuesError(
            path,
            (
                f"label file {path} contains colours {_listing(values)} that are not in the "
                f"palette of {_spec_name(spec)} (RGB); add them to 'palette' (a class) or "
                "'ignore_colors', or fix the mask"
            ),
            values,
        )
    return train_ids[position]


def _raise_if_undeclared(
    train_ids: np.ndarray, raw: np.ndarray, spec: DatasetSpec, path: str
) -> None:
    undeclared = train_ids == _UNDECLARED
    if not undeclared.any():
        return
    counts = np.bincount(raw[undeclared].ravel(), minlength=256)
    values = [
        (str(value), int(counts[value]))
        for value in np.argsort(-counts, kind="stable")
        if counts[value]
    ]
    declared = (
        f"classes 0..{spec.num_classes - 1} and the ignore index {spec.ignore_index}"
        if spec.value_map is None
        else f"the keys of value_map {sorted(spec.value_map)}"
    )
    hint = spec.undeclared_values_hint or (
        f"map them in 'value_map' of {_spec_name(spec)} (to a class or to {spec.ignore_index}), or "
        "fix the mask"
    )
    raise UndeclaredValuesError(
        path,
        (f"label file {path} contains values {_listing(values)} outside {declared}: {hint}"),
        values,
    )


def _listing(values: list[tuple[str, int]]) -> str:
    shown = ", ".join(f"{value} ({count} px)" for value, count in values[:_LISTED])
    return f"[{shown}{', ...' if len(values) > _LISTED else ''}]"


def _color_keys(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def _color_key(color: tuple[int, int, int]) -> int:
    return (color[0] << 16) | (color[1] << 8) | color[2]


def _key_color(key: int) -> tuple[int, int, int]:
    return (key >> 16) & 255, (key >> 8) & 255, key & 255


def _spec_name(spec: DatasetSpec) -> str:
    return spec.source if spec.source.endswith(SPEC_FILE) else f"the {spec.source}"
