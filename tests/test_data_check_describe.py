import filecmp
import json
import os
import shutil

import cv2
import numpy as np
import pytest
from data_fixtures import (
    make_custom5,
    make_index_dataset,
    three_class_mask,
    write_image,
    write_mask,
)

from pointrend.data.describe import describe_dataset
from pointrend.data.prepare import check, describe
from pointrend.data.spec_parse import read_spec
from pointrend.data.synthetic import main as synthetic_main


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return make_custom5(str(tmp_path_factory.mktemp("custom5")), num_train=3, num_val=2)


@pytest.fixture
def custom5(pristine, tmp_path):
    path = str(tmp_path / "custom5")
    shutil.copytree(pristine, path)
    return path


def test_check_prints_counts_and_class_frequencies(custom5, capsys):
    check(custom5, workers=1)
    out = capsys.readouterr().out
    assert "5 classes, color masks" in out and f"OK: no problems found in {custom5}" in out
    lines = out.splitlines()
    assert any(line.split()[:4] == ["train", "3", "3", "3"] for line in lines)
    assert any(line.split()[:4] == ["val", "2", "2", "2"] for line in lines)
    sky = next(line for line in lines if line.strip().startswith("sky "))
    assert 5.0 < float(sky.split()[1].rstrip("%")) < 60.0


def test_check_exits_non_zero_with_the_problem(custom5, capsys):
    os.remove(os.path.join(custom5, "annotations", "val", "scene_0001.png"))
    with pytest.raises(SystemExit) as exit_info:
        check(custom5, workers=1)
    assert exit_info.value.code == 1
    assert "image without mask: 1 file(s)" in capsys.readouterr().out


def test_check_reports_a_broken_dataset_json(custom5, capsys):
    with open(os.path.join(custom5, "dataset.json"), "w") as handle:
        json.dump(
            {"classes": ["a"], "splits": {"train": {"images": "images/train"}}, "palete": 1}, handle
        )
    with pytest.raises(SystemExit):
        check(custom5)
    assert (
        "field 'palete': is not a known field; did you mean 'palette'?" in capsys.readouterr().err
    )


def test_describe_colour_masks_then_check_passes(custom5, capsys):
    os.remove(os.path.join(custom5, "dataset.json"))
    describe(custom5, workers=1)
    out = capsys.readouterr().out
    spec = read_spec(custom5)
    assert spec.mask_format == "color" and spec.num_classes == 6  # 5 classes + black (not labelled)
    assert (0, 0, 0) in spec.palette and spec.class_names[0] == "class_0"
    assert list(spec.splits) == ["train", "val"] and spec.split("val").masks == "annotations/val"
    assert spec.image_suffixes == (".jpg",) and spec.mask_suffix == ".png"
    assert "move it from 'palette' to 'ignore_colors'" in out
    check(custom5, workers=1)
    assert "OK: no problems found" in capsys.readouterr().out


def test_describe_refuses_to_overwrite(custom5):
    with pytest.raises(FileExistsError, match="dataset.json exists already; pass --overwrite"):
        describe_dataset(custom5, progress=False)
    assert describe_dataset(custom5, overwrite=True, progress=False).spec.num_classes == 6


def test_describe_index_masks_with_ignore(tmp_path):
    mask = three_class_mask()
    mask[0] = 255
    root = make_index_dataset(str(tmp_path), {"a": mask, "b": three_class_mask()})
    make_index_dataset(str(tmp_path), {"c": three_class_mask()}, split="val")
    description = describe_dataset(root, progress=False)
    spec = read_spec(root)
    assert spec.class_names == ("class_0", "class_1", "class_2") and spec.value_map is None
    assert (
        spec.mask_format == "index"
        and len(spec.palette) == 3
        and list(spec.splits) == ["train", "val"]
    )
    assert any("value 255" in note for note in description.notes)
    assert "class_1 (value 1)" in description.format()


@pytest.mark.parametrize(
    "scale, expected_map",
    [
        (255, {0: 0, 255: 1}),  # binary 0/255 masks: two classes
        (100, {0: 0, 100: 1, 200: 2}),  # grey levels: mapped to consecutive classes
    ],
)
def test_describe_maps_large_mask_values(tmp_path, scale, expected_map):
    mask = np.minimum(three_class_mask().astype(np.int32) * scale, 255).astype(np.uint8)
    root = make_index_dataset(str(tmp_path), {"a": mask})
    describe_dataset(root, progress=False)
    assert read_spec(root).value_map == expected_map


def test_describe_split_first_layout_and_mask_suffix(tmp_path):
    for split in ("training", "validation"):
        write_image(str(tmp_path / split / "imgs" / "x1.jpg"))
        write_mask(str(tmp_path / split / "labels" / "x1_mask.png"), three_class_mask())
    describe_dataset(str(tmp_path), progress=False)
    spec = read_spec(str(tmp_path))
    assert (
        spec.split("train").images == "training/imgs"
        and spec.split("val").masks == "validation/labels"
    )
    assert spec.mask_suffix == "_mask.png" and spec.image_suffixes == (".jpg",)


def test_describe_rejects_lossy_colour_masks(tmp_path):
    noisy = np.random.default_rng(0).integers(0, 255, (16, 24, 3), dtype=np.uint8)
    root = make_index_dataset(str(tmp_path), {"a": noisy})
    with pytest.raises(ValueError, match="distinct colours .*saved losslessly"):
        describe_dataset(root, progress=False)


def test_describe_without_masks(tmp_path):
    write_image(str(tmp_path / "images" / "a.jpg"))
    with pytest.raises(FileNotFoundError, match="no mask files found .*--masks="):
        describe_dataset(str(tmp_path), progress=False)


def test_synthetic_custom5_preset_is_deterministic(tmp_path):
    for name in ("one", "two"):
        synthetic_main(
            root=str(tmp_path / name), num_train=2, num_val=1, size="48x96", preset="custom5"
        )
    first = str(tmp_path / "one")
    assert read_spec(first).class_names == ("ground", "structure", "vegetation", "sky", "mover")
    mask = cv2.imread(
        os.path.join(first, "annotations", "train", "scene_0001.png"), cv2.IMREAD_UNCHANGED
    )
    assert mask.shape == (48, 96, 3)
    comparison = filecmp.dircmp(first, str(tmp_path / "two"))
    assert not comparison.diff_files and sorted(comparison.common) == [
        "annotations",
        "dataset.json",
        "images",
    ]
    with pytest.raises(SystemExit, match="not one of cityscapes, custom5"):
        synthetic_main(root=str(tmp_path / "x"), preset="voc")


def test_cityscapes_check_prints_class_frequencies_too(tmp_path, capsys):
    from pointrend.data import generate_synthetic_cityscapes

    generate_synthetic_cityscapes(str(tmp_path), num_train=2, num_val=1, size=(48, 96))
    check(str(tmp_path), workers=1)
    lines = capsys.readouterr().out.splitlines()
    header = lines.index("class pixel frequencies:")
    assert lines[header + 1].split() == ["class", "train", "val"]
    assert lines[header + 2].split()[0] == "road" and lines[header + 21].split()[:2] == [
        "(not",
        "labelled)",
    ]
    shares = [float(line.split()[-1].rstrip("%")) for line in lines[header + 2 : header + 22]]
    assert abs(sum(shares) - 100.0) < 0.1
