"""What a segmentation dataset is: its classes, how masks encode them, and where each split lives.

A DatasetSpec is read from `dataset.json` in the dataset folder (spec_parse.py) or built by a
preset (presets.py: Cityscapes). Everything downstream -- pairing, decoding masks, the dataset,
check and describe -- works from the spec alone.
"""

from dataclasses import dataclass, field

from pointrend.data.errors import SpecError
from pointrend.data.palette import Color, default_palette

SPEC_FILE = "dataset.json"
MASK_FORMATS = ("index", "color")
DEFAULT_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class SplitSpec:
    """One split: an image folder (+ mask folder, absent for unlabelled splits) or a list file.

    Folders and list files are relative to the dataset root. Folders are walked recursively and an
    image `<folder>/<rel>/<stem><image suffix>` pairs with `<mask folder>/<rel>/<stem><mask
    suffix>`.
    """

    name: str
    images: str | None = None
    masks: str | None = None
    list_file: str | None = None

    @property
    def labelled(self) -> bool:
        return self.masks is not None or self.list_file is not None


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset description; `source` is the file it came from (or the preset's name).

    value_map: raw index-mask value -> train id (a class index or ignore_index); when absent, a
        mask value v means class v and ignore_index means "not labelled".
    palette: RGB colour per class; required for colour masks, used to draw predictions.
    ignore_colors: RGB colours of colour masks that mean "not labelled".
    """

    root: str
    source: str
    class_names: tuple[str, ...]
    splits: dict[str, SplitSpec]
    ignore_index: int = 255
    palette: tuple[Color, ...] | None = None
    ignore_colors: tuple[Color, ...] = ()
    mask_format: str = "index"
    value_map: dict[int, int] | None = None
    image_suffixes: tuple[str, ...] = DEFAULT_IMAGE_SUFFIXES
    mask_suffix: str = ".png"
    list_separator: str = ","
    preset: str | None = None  # the preset's name when the spec is not read from dataset.json
    # Extra advice appended to "mask values not declared" errors (presets know the usual cause).
    undeclared_values_hint: str = field(default="", compare=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def colors(self) -> tuple[Color, ...]:
        """The palette, or distinct generated colours when the spec has none."""
        return self.palette if self.palette is not None else default_palette(self.num_classes)

    def split(self, name: str) -> SplitSpec:
        if name not in self.splits:
            raise SpecError(
                self.source,
                "splits",
                f"has no split '{name}' (splits: {', '.join(self.splits) or 'none'}); "
                "add it or pick one of those",
            )
        return self.splits[name]
