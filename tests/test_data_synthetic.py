import filecmp
import glob
import os

import numpy as np
import pytest

from pointrend.data import generate_synthetic_cityscapes, label_ids_to_train_ids
from pointrend.data.image_io import read_image, read_label
from pointrend.data.prepare import trainids
from pointrend.data.synthetic import main, parse_size


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("synthetic"))
    generate_synthetic_cityscapes(root, num_train=6, num_val=3, num_test=2, size=(96, 192), seed=3)
    return root


def test_writes_the_official_layout_and_lists(synthetic_root):
    images = glob.glob(os.path.join(synthetic_root, "leftImg8bit", "*", "*", "*_leftImg8bit.png"))
    assert len(images) == 11
    assert (
        len(
            glob.glob(os.path.join(synthetic_root, "gtFine", "train", "*", "*_gtFine_labelIds.png"))
        )
        == 6
    )
    assert (
        len(
            glob.glob(
                os.path.join(synthetic_root, "gtFine", "val", "*", "*_gtFine_labelTrainIds.png")
            )
        )
        == 3
    )
    assert not os.path.exists(os.path.join(synthetic_root, "gtFine", "test"))
    assert len({os.path.basename(os.path.dirname(path)) for path in images}) >= 4  # several cities
    with open(os.path.join(synthetic_root, "train.txt")) as handle:
        first = handle.readline().strip().split(",")
    assert first[0].startswith("leftImg8bit/train/") and first[1].endswith(
        "_gtFine_labelTrainIds.png"
    )
    with open(os.path.join(synthetic_root, "test.txt")) as handle:
        assert all("," not in line for line in handle)


def test_train_ids_are_the_lookup_of_label_ids(synthetic_root):
    for path in glob.glob(
        os.path.join(synthetic_root, "gtFine", "*", "*", "*_gtFine_labelIds.png")
    ):
        train_ids = read_label(path.replace("_labelIds", "_labelTrainIds"))
        np.testing.assert_array_equal(train_ids, label_ids_to_train_ids(read_label(path)))
        assert read_image(
            path.replace("gtFine", "leftImg8bit", 1).replace("_gtFine_labelIds", "_leftImg8bit")
        ).shape == (96, 192, 3)


def test_scenes_contain_stuff_and_thin_things(synthetic_root):
    labels = [
        read_label(p)
        for p in glob.glob(os.path.join(synthetic_root, "gtFine", "*", "*", "*TrainIds.png"))
    ]
    present = set(np.unique(np.stack(labels)).tolist())
    assert {
        0,
        1,
        2,
        5,
        8,
        10,
        11,
        13,
    } <= present  # road sidewalk building pole vegetation sky person car
    assert 255 in present  # ego vehicle and static objects are not evaluated


def test_colour_alone_does_not_separate_classes(synthetic_root):
    image = read_image(
        glob.glob(os.path.join(synthetic_root, "leftImg8bit", "train", "*", "*.png"))[0]
    )
    label = read_label(
        glob.glob(os.path.join(synthetic_root, "gtFine", "train", "*", "*TrainIds.png"))[0]
    )
    road = image[label == 0].astype(np.float32)
    assert road.std(axis=0).min() > 3.0  # textured, not a flat colour


def test_same_seed_same_files_on_any_number_of_workers_other_seed_other_files(tmp_path):
    for name, seed, workers in (("a", 5, 1), ("b", 5, 2), ("c", 6, 1)):
        generate_synthetic_cityscapes(
            str(tmp_path / name), num_train=2, num_val=0, size=(64, 128), seed=seed, workers=workers
        )
    relative = "leftImg8bit/train/arborville/arborville_000000_000019_leftImg8bit.png"
    assert filecmp.cmp(tmp_path / "a" / relative, tmp_path / "b" / relative, shallow=False)
    assert not filecmp.cmp(tmp_path / "a" / relative, tmp_path / "c" / relative, shallow=False)


def test_prepare_trainids_reproduces_the_generated_files(tmp_path):
    root = str(tmp_path)
    generate_synthetic_cityscapes(root, num_train=3, num_val=1, size=(64, 128))
    generated = sorted(
        glob.glob(os.path.join(root, "gtFine", "*", "*", "*_gtFine_labelTrainIds.png"))
    )
    kept = {path: open(path, "rb").read() for path in generated}
    for path in generated:
        os.remove(path)
    trainids(root, workers=2)
    for path, content in kept.items():
        assert open(path, "rb").read() == content


@pytest.mark.parametrize(
    "size, expected", [("256x512", (256, 512)), ((128, 256), (128, 256)), ([64, 96], (64, 96))]
)
def test_parse_size(size, expected):
    assert parse_size(size) == expected


@pytest.mark.parametrize("size", ["256", "axb", (16, 16), 256])
def test_parse_size_rejects_bad_values(size):
    with pytest.raises(ValueError, match="HEIGHTxWIDTH"):
        parse_size(size)


def test_cli_entry_point_writes_and_reports(tmp_path, capsys):
    main(root=str(tmp_path / "cli"), num_train=2, num_val=1, size="64x128", seed=1)
    assert "wrote 2 train, 1 val images of 64x128" in capsys.readouterr().out
    assert os.path.isfile(tmp_path / "cli" / "val.txt")
