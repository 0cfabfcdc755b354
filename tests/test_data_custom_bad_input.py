"""Every bad input of a dataset.json dataset: one clear error naming the file, nothing dropped."""

import os
import shutil

import numpy as np
import pytest
from data_fixtures import (
    make_custom5,
    make_index_dataset,
    three_class_mask,
    truncate,
    write_image,
    write_mask,
    write_spec_json,
)

from pointrend.data.check_spec import check_spec_dataset
from pointrend.data.errors import DataFileError, PairingError
from pointrend.data.presets import spec_for_root
from pointrend.data.segmentation import SegmentationDataset


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return make_custom5(str(tmp_path_factory.mktemp("custom5")), num_train=3, num_val=1)


@pytest.fixture
def root(pristine, tmp_path):
    path = str(tmp_path / "custom5")
    shutil.copytree(pristine, path)
    return path


def _dataset(root, split="train"):
    return SegmentationDataset(spec_for_root(root), split)


def _path(root, kind, name, split="train"):
    folder, suffix = ("images", ".jpg") if kind == "image" else ("annotations", ".png")
    return os.path.join(root, folder, split, name + suffix)


def _check(root):
    return check_spec_dataset(spec_for_root(root), workers=1, progress=False)


def test_colour_not_in_palette_names_file_colour_and_pixels(root):
    mask_path = _path(root, "mask", "scene_0000")
    rgb = np.zeros((48, 96, 3), dtype=np.uint8)
    rgb[:4, :5] = (1, 2, 3)
    write_mask(mask_path, rgb)
    with pytest.raises(
        DataFileError,
        match=rf"{mask_path} contains colours \[\(1, 2, 3\) \(20 px\)\] that are "
        r"not in the palette of .*dataset.json",
    ):
        _dataset(root)
    report = _check(root)
    assert not report.ok and report.undeclared["(1, 2, 3)"] == {"pixels": 20, "files": 1}
    assert "mask values not declared: 1 file(s)" in report.format() and mask_path in report.format()


def test_undeclared_index_value_in_a_later_file_fails_when_read(tmp_path):
    bad = three_class_mask()
    bad[:2, :3] = 7
    root = make_index_dataset(str(tmp_path), {"a": three_class_mask(), "b": bad}, spec={})
    dataset = _dataset(root)
    bad_path = os.path.join(root, "masks", "train", "b.png")
    with pytest.raises(
        DataFileError,
        match=rf"{bad_path} contains values \[7 \(6 px\)\] outside classes 0..2 "
        "and the ignore index 255: map them in 'value_map'",
    ):
        dataset[1]
    assert "7: 6 px" in _check(root).format()


def test_value_map_declares_what_is_allowed(tmp_path):
    root = make_index_dataset(
        str(tmp_path), {"a": three_class_mask() * 10}, spec={"value_map": {"0": 0, "10": 1}}
    )
    with pytest.raises(
        DataFileError, match=r"values \[20 \(\d+ px\)\] outside the keys of value_map \[0, 10\]"
    ):
        _dataset(root)


def test_image_without_mask(root):
    mask = _path(root, "mask", "scene_0001")
    os.remove(mask)
    with pytest.raises(PairingError, match=rf"1 x image without mask: .*scene_0001.jpg: no {mask}"):
        _dataset(root)
    assert "image without mask: 1 file(s)" in _check(root).format()


def test_mask_without_image(root):
    image = _path(root, "image", "scene_0001")
    os.remove(image)
    with pytest.raises(PairingError, match=r"1 x mask without image: .*scene_0001.png"):
        _dataset(root)


def test_two_images_one_mask_name(root):
    image = _path(root, "image", "scene_0001")
    twin = image.replace(".jpg", ".png")
    shutil.copy(image, twin)
    write_spec_json(
        root,
        classes=["ground", "structure", "vegetation", "sky", "mover"],
        palette=[[170, 120, 60], [90, 90, 110], [40, 160, 40], [110, 170, 240], [230, 40, 60]],
        mask_format="color",
        ignore_colors=[[0, 0, 0]],
        image_suffix=[".jpg", ".png"],
        splits={"train": {"images": "images/train", "masks": "annotations/train"}},
    )
    with pytest.raises(
        PairingError,
        match=rf"two images, one mask name: .*scene_0001.png: wanted by {image} and "
        rf"{twin}",
    ):
        _dataset(root)


def test_empty_split(root):
    folder = os.path.join(root, "images", "val")
    shutil.rmtree(folder)
    os.makedirs(folder)
    with pytest.raises(
        PairingError, match=rf"split 'val' .*empty split: {folder}: no \*.jpg files"
    ):
        _dataset(root, "val")
    assert "empty split" in _check(root).format()


def test_missing_folder_and_unknown_split(root):
    shutil.rmtree(os.path.join(root, "annotations", "val"))
    with pytest.raises(PairingError, match="missing folder: .*annotations/val: does not exist"):
        _dataset(root, "val")
    with pytest.raises(ValueError, match="has no split 'validation'"):
        _dataset(root, "validation")


def test_size_mismatch_names_both_files(tmp_path):
    root = make_index_dataset(
        str(tmp_path),
        {"a": three_class_mask(), "b": three_class_mask()},
        spec={},
        image_sizes={"b": (20, 24)},
    )
    mask = os.path.join(root, "masks", "train", "b.png")
    with pytest.raises(DataFileError, match=rf"{mask} is 24x16 but its image .*b.png is 24x20"):
        _dataset(root)[1]
    assert "size mismatch: 1 file(s)" in _check(root).format()


@pytest.mark.parametrize(
    "mask, words",
    [
        (
            np.zeros((16, 24, 3), np.uint8),
            "not a single-channel .*it stores colours, but .*dataset.json declares index masks",
        ),
        (np.zeros((16, 24), np.uint16) + 300, "not a single-channel 8-bit PNG .*uint16"),
    ],
)
def test_wrong_mask_kind_for_index_masks(tmp_path, mask, words):
    root = make_index_dataset(str(tmp_path), {"a": three_class_mask(), "b": mask}, spec={})
    with pytest.raises(DataFileError, match=rf"masks/train/b.png is {words}"):
        _dataset(root)[1]
    assert "wrong mask format: 1 file(s)" in _check(root).format()


def test_grey_mask_where_colour_is_declared(root):
    mask = _path(root, "mask", "scene_0002")
    write_mask(mask, np.zeros((48, 96), np.uint8))
    with pytest.raises(
        DataFileError, match=rf"{mask} is not an 8-bit colour PNG .*declares colour masks"
    ):
        _dataset(root)[2]


def test_unreadable_files_are_named_by_check(root):
    image = truncate(_path(root, "image", "scene_0001"))
    mask = truncate(_path(root, "mask", "scene_0002"))
    text = _check(root).format()
    assert f"unreadable image: 1 file(s)\n    {image}: cannot be decoded: truncated JPEG" in text
    assert f"unreadable mask: 1 file(s)\n    {mask}: cannot be decoded: truncated PNG" in text


def test_non_image_files_in_the_image_folder_are_noted_not_dropped_silently(root):
    readme = os.path.join(root, "images", "train", "README.txt")
    with open(readme, "w") as handle:
        handle.write("notes")
    report = _check(root)
    assert report.ok and f"note: not an image: 1 file(s)\n    {readme}" in report.format()


def test_list_file_problems(tmp_path):
    root = make_index_dataset(str(tmp_path), {"a": three_class_mask()})
    (tmp_path / "train.txt").write_text(
        "images/train/a.png,masks/train/a.png\nimages/train/a.png\n"
        "images/train/x.png,masks/train/a.png\n"
    )
    write_spec_json(root, splits={"train": {"list": "train.txt"}})
    with pytest.raises(
        PairingError, match=r"malformed line: .*train.txt:2: 'images/train/a.png' does not split"
    ):
        _dataset(root)
    text = _check(root).format()
    assert "missing file: 1 file(s)" in text and "x.png does not exist" in text


def test_same_mask_twice_in_a_list_file(tmp_path):
    root = make_index_dataset(str(tmp_path), {"a": three_class_mask(), "b": three_class_mask()})
    (tmp_path / "train.txt").write_text(
        "images/train/a.png,masks/train/a.png\nimages/train/b.png,masks/train/a.png\n"
    )
    write_spec_json(root, splits={"train": {"list": "train.txt"}})
    with pytest.raises(
        PairingError, match="two images, one mask name: .*a.png: named on lines 1, 2"
    ):
        _dataset(root)


def test_images_and_masks_in_one_folder(tmp_path):
    folder = tmp_path / "data"
    write_image(str(folder / "a.png"))
    write_mask(str(folder / "a_mask.png"), three_class_mask())
    write_spec_json(
        str(tmp_path),
        mask_suffix="_mask.png",
        splits={"train": {"images": "data", "masks": "data"}},
    )
    dataset = _dataset(str(tmp_path))
    assert [os.path.basename(p) for p in dataset.image_paths] == ["a.png"] and len(dataset) == 1
