import json
import os

import pytest

from pointrend.data import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, generate_synthetic_cityscapes
from pointrend.data.errors import SpecError
from pointrend.data.palette import default_palette
from pointrend.data.presets import cityscapes_spec, spec_for_root
from pointrend.data.spec_parse import parse_spec, read_spec
from pointrend.data.spec_write import spec_to_dict, write_spec

VALID = {
    "classes": ["background", "crack", "pothole"],
    "palette": [[0, 0, 0], [255, 0, 0], [0, 0, 255]],
    "ignore_index": 255,
    "splits": {
        "train": {"images": "images/train", "masks": "masks/train"},
        "val": {"list": "val.txt"},
        "test": {"images": "images/test"},
    },
}


def _parse(**changes):
    raw = {**VALID, **changes}
    return parse_spec({k: v for k, v in raw.items() if v is not None}, "root", "root/dataset.json")


def test_valid_spec_fields():
    spec = _parse()
    assert spec.class_names == ("background", "crack", "pothole") and spec.num_classes == 3
    assert spec.palette[1] == (255, 0, 0) and spec.mask_format == "index" and spec.value_map is None
    assert spec.split("val").list_file == "val.txt" and spec.split("train").labelled
    assert not spec.split("test").labelled
    assert spec.mask_suffix == ".png" and ".jpg" in spec.image_suffixes


@pytest.mark.parametrize(
    "changes, field, words",
    [
        ({"clases": ["a"]}, "clases", "did you mean 'classes'"),
        ({"classes": []}, "classes", "non-empty list"),
        ({"classes": ["a", "a", "b"]}, r"classes\[1\]", "appears twice"),
        ({"classes": ["a", ""], "palette": None}, r"classes\[1\]", "non-empty strings"),
        ({"palette": [[0, 0, 0]]}, "palette", "1 colours for 3 classes"),
        ({"palette": [[0, 0, 0], [1, 2], [3, 4, 5]]}, r"palette\[1\]", r"\[R, G, B\]"),
        ({"palette": [[0, 0, 0], [0, 0, 0], [3, 4, 5]]}, r"palette\[1\]", "appears twice"),
        ({"ignore_index": 2}, "ignore_index", "class '2' of 3 classes"),
        ({"ignore_index": 300}, "ignore_index", "0..255"),
        ({"mask_format": "rgb"}, "mask_format", "index"),
        (
            {"mask_format": "color", "palette": None},
            "palette",
            "required when mask_format is 'color'",
        ),
        ({"ignore_colors": [[1, 1, 1]]}, "ignore_colors", "colour masks"),
        ({"value_map": {"7": 5}}, r"value_map\['7'\]", "class index 0..2 or to ignore_index 255"),
        ({"value_map": {"x": 1}}, r"value_map\['x'\]", "raw mask values"),
        ({"splits": {}}, "splits", "at least one split"),
        ({"splits": {"train": {"images": "a", "list": "b"}}}, "splits.train", "not both"),
        ({"splits": {"train": {"masks": "m"}}}, "splits.train.images", "is missing"),
        (
            {"splits": {"train": {"images": "/abs"}}},
            "splits.train.images",
            "relative to the dataset root",
        ),
        ({"splits": {"train": {"image": "a"}}}, "splits.train.image", "did you mean 'images'"),
        ({"image_suffix": "jpg"}, "image_suffix", "file-name ending"),
    ],
)
def test_each_mistake_names_the_file_and_field(changes, field, words):
    with pytest.raises(SpecError, match=rf"root/dataset.json: field '{field}': .*{words}"):
        _parse(**changes)


def test_color_masks_reject_a_class_colour_also_ignored():
    with pytest.raises(SpecError, match="ignore_colors.*also a class colour"):
        _parse(mask_format="color", ignore_colors=[[255, 0, 0]])


def test_unknown_split_names_the_known_ones():
    with pytest.raises(SpecError, match="has no split 'validation' .*train, val, test"):
        _parse().split("validation")


def test_write_then_read_gives_the_same_spec(tmp_path):
    spec = _parse(value_map={"0": 0, "128": 1, "200": 2, "255": 255})
    path = write_spec(spec, str(tmp_path / "dataset.json"))
    again = read_spec(str(tmp_path))
    assert spec_to_dict(again) == spec_to_dict(spec)
    assert again.value_map == {0: 0, 128: 1, 200: 2, 255: 255}
    with open(path) as handle:
        assert "[255, 0, 0]" in handle.read()  # one colour per line


def test_broken_json_and_missing_file_name_the_file(tmp_path):
    with pytest.raises(
        SpecError, match="dataset.json: field '\\(file\\)': does not exist.*prepare describe"
    ):
        read_spec(str(tmp_path))
    (tmp_path / "dataset.json").write_text("{not json")
    with pytest.raises(SpecError, match="is not valid JSON"):
        read_spec(str(tmp_path))


def test_cityscapes_is_a_preset_of_the_same_spec():
    spec = cityscapes_spec("data/cityscapes")
    assert spec.class_names == CITYSCAPES_CLASSES and spec.palette == CITYSCAPES_PALETTE
    assert spec.split("train").masks == "gtFine/train" and not spec.split("test").labelled
    assert spec.mask_suffix == "_gtFine_labelTrainIds.png" and spec.image_suffixes == (
        "_leftImg8bit.png",
    )


def test_spec_for_root_prefers_dataset_json_then_cityscapes(tmp_path):
    cityscapes = str(tmp_path / "cs")
    generate_synthetic_cityscapes(cityscapes, num_train=1, num_val=0, size=(32, 64))
    assert spec_for_root(cityscapes).class_names == CITYSCAPES_CLASSES
    with open(os.path.join(cityscapes, "dataset.json"), "w") as handle:
        json.dump(VALID, handle)
    assert spec_for_root(cityscapes).num_classes == 3
    with pytest.raises(SpecError, match="does not exist .*prepare describe --root="):
        spec_for_root(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="nowhere does not exist"):
        spec_for_root(str(tmp_path / "nowhere"))


def test_default_palette_is_distinct():
    colors = default_palette(40)
    assert len(set(colors)) == 40 and all(0 <= c <= 255 for color in colors for c in color)
