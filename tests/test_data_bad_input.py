"""Every broken dataset fails with one error that names the file and the fix."""

import os
import shutil

import numpy as np
import pytest

from pointrend.data import CityscapesDataset, generate_synthetic_cityscapes
from pointrend.data.image_io import write_png

TRAIN_IDS = "_gtFine_labelTrainIds.png"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("pristine"))
    generate_synthetic_cityscapes(path, num_train=3, num_val=1, size=(48, 96), seed=0)
    return path


@pytest.fixture
def root(pristine, tmp_path):
    path = str(tmp_path / "cityscapes")
    shutil.copytree(pristine, path)
    return path


def _train_pair(root, index=0):
    dataset = CityscapesDataset(root, "train")
    return dataset.image_paths[index], dataset.label_paths[index]


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*pointrend.data.synthetic"):
        CityscapesDataset(str(tmp_path / "nowhere"))


def test_missing_split(root):
    with pytest.raises(
        FileNotFoundError, match=r"leftImg8bit/test does not exist.*\['train', 'val'\]"
    ):
        CityscapesDataset(root, "test")


def test_empty_split(root):
    shutil.rmtree(os.path.join(root, "leftImg8bit", "val"))
    os.makedirs(os.path.join(root, "leftImg8bit", "val", "somecity"))
    with pytest.raises(ValueError, match="split 'val' is empty"):
        CityscapesDataset(root, "val")


def test_image_without_label(root):
    image, label = _train_pair(root)
    os.remove(label)
    os.remove(label.replace(TRAIN_IDS, "_gtFine_labelIds.png"))
    with pytest.raises(FileNotFoundError, match=f"1 of 3 images .* no label file, e.g. {label}"):
        CityscapesDataset(root, "train")


def test_label_without_image(root):
    image, label = _train_pair(root)
    os.remove(image)
    with pytest.raises(FileNotFoundError, match=f"have no image, e.g. {label}.*restore"):
        CityscapesDataset(root, "train")


def test_only_label_ids_points_to_prepare_trainids(root):
    for label in CityscapesDataset(root, "train").label_paths:
        os.remove(label)
    with pytest.raises(FileNotFoundError, match="prepare trainids --root="):
        CityscapesDataset(root, "train")


def test_label_ids_passed_as_train_ids_fails_at_construction(root):
    _, label = _train_pair(root)
    shutil.copy(label.replace(TRAIN_IDS, "_gtFine_labelIds.png"), label)
    with pytest.raises(
        ValueError, match=rf"{label} contains values \[.*\b(7|21|23)\b.*prepare trainids"
    ):
        CityscapesDataset(root, "train")


def test_label_ids_in_a_later_file_fail_when_read(root):
    _, label = _train_pair(root, index=2)
    shutil.copy(label.replace(TRAIN_IDS, "_gtFine_labelIds.png"), label)
    dataset = CityscapesDataset(root, "train")
    with pytest.raises(ValueError, match=f"{label} contains values .*labelIds"):
        dataset[2]


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_png_names_the_file(root, damage):
    image, _ = _train_pair(root, index=1)
    content = open(image, "rb").read()
    with open(image, "wb") as handle:
        handle.write(b"not a png at all" if damage == "garbage" else content[: len(content) // 2])
    dataset = CityscapesDataset(root, "train")
    with pytest.raises(ValueError, match=f"image file {image} cannot be decoded"):
        dataset[1]


def test_corrupt_first_label_fails_at_construction(root):
    _, label = _train_pair(root)
    with open(label, "wb") as handle:
        handle.write(b"\x89PNG broken")
    with pytest.raises(ValueError, match=f"label file {label} cannot be decoded"):
        CityscapesDataset(root, "train")


def test_colour_label_is_rejected(root):
    _, label = _train_pair(root)
    write_png(label, np.zeros((48, 96, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match=f"{label} is not a single-channel"):
        CityscapesDataset(root, "train")


def test_image_and_label_sizes_differ(root):
    _, label = _train_pair(root, index=1)
    write_png(label, np.zeros((40, 96), dtype=np.uint8))
    with pytest.raises(ValueError, match=f"{label} is 96x40 but its image .* is 96x48"):
        CityscapesDataset(root, "train")[1]


def test_list_file_with_wrong_separator(root):
    list_file = os.path.join(root, "train.txt")
    with open(list_file) as handle:
        content = handle.read()
    with open(list_file, "w") as handle:
        handle.write(content.replace(",", " "))
    with pytest.raises(
        ValueError, match=f"{list_file}, line 1: .*separator ','.*pass separator=' '"
    ):
        CityscapesDataset(root, "train", list_file="train.txt")


def test_list_file_with_missing_path(root):
    list_file = os.path.join(root, "train.txt")
    with open(list_file, "a") as handle:
        handle.write(
            "leftImg8bit/train/x/x_leftImg8bit.png,gtFine/train/x/x_gtFine_labelTrainIds.png\n"
        )
    with pytest.raises(
        FileNotFoundError,
        match=r"names 2 file\(s\) that do not exist \(line 4: .*x_leftImg8bit.png",
    ):
        CityscapesDataset(root, "train", list_file=list_file)


def test_list_file_pointing_at_label_ids(root):
    list_file = os.path.join(root, "train.txt")
    with open(list_file) as handle:
        content = handle.read()
    with open(list_file, "w") as handle:
        handle.write(content.replace(TRAIN_IDS, "_gtFine_labelIds.png"))
    with pytest.raises(
        ValueError, match="points at \\*_gtFine_labelIds.png files.*prepare trainids"
    ):
        CityscapesDataset(root, "train", list_file=list_file)


def test_list_file_that_does_not_exist_or_is_empty(root):
    with pytest.raises(
        FileNotFoundError, match="list file missing.txt does not exist.*prepare lists"
    ):
        CityscapesDataset(root, "train", list_file="missing.txt")
    open(os.path.join(root, "empty.txt"), "w").close()
    with pytest.raises(ValueError, match="empty.txt is empty"):
        CityscapesDataset(root, "train", list_file="empty.txt")


def test_list_file_mixing_labelled_and_unlabelled_lines(root):
    list_file = os.path.join(root, "train.txt")
    with open(list_file, "a") as handle:
        handle.write("leftImg8bit/train/x/x_leftImg8bit.png\n")
    with pytest.raises(ValueError, match="line 4: .* does not split into 2 field"):
        CityscapesDataset(root, "train", list_file=list_file)
