import os

import numpy as np
import paddle
import pytest

from pointrend.data import (
    CityscapesDataset,
    build_train_transforms,
    build_val_transforms,
    generate_synthetic_cityscapes,
)
from pointrend.data.image_io import read_image, read_label


@pytest.fixture
def root(synthetic_cityscapes):
    return synthetic_cityscapes


def test_official_layout_items_are_float_chw_images_and_int64_labels(root):
    dataset = CityscapesDataset(root, "val")
    image, label = dataset[1]
    assert len(dataset) == 2 and dataset.labelled
    assert image.shape == (3, 64, 128) and image.dtype == np.float32
    assert label.shape == (64, 128) and label.dtype == np.int64
    raw = read_image(dataset.image_paths[1])
    np.testing.assert_array_equal(
        image, raw.transpose(2, 0, 1)
    )  # no transforms: decoded BGR pixels
    np.testing.assert_array_equal(label, read_label(dataset.label_paths[1]))


def test_transforms_receive_image_and_mask(root):
    dataset = CityscapesDataset(root, "train", build_train_transforms(crop_size=(32, 48), seed=0))
    image, label = dataset[0]
    assert image.shape == (3, 32, 48) and label.shape == (32, 48) and label.dtype == np.int64
    assert abs(float(image.mean())) < 3.0  # normalised


def test_list_file_gives_the_same_samples_as_the_layout(root):
    from_layout = CityscapesDataset(root, "train")
    from_list = CityscapesDataset(root, "train", list_file="train.txt")
    assert from_list.image_paths == from_layout.image_paths
    assert from_list.label_paths == from_layout.label_paths


def test_list_file_with_another_separator(root, tmp_path):
    with open(os.path.join(root, "val.txt")) as handle:
        lines = handle.read().replace(",", " ")
    list_file = tmp_path / "val_space.txt"
    list_file.write_text(lines)
    dataset = CityscapesDataset(root, "val", list_file=str(list_file), separator=" ")
    assert len(dataset) == 2 and dataset.labelled


def test_test_split_is_unlabelled_and_exposes_paths(root):
    dataset = CityscapesDataset(root, "test", build_val_transforms())
    item = dataset[0]
    assert not dataset.labelled and len(item) == 1 and item[0].shape == (3, 64, 128)
    assert all(path.endswith("_leftImg8bit.png") for path in dataset.image_paths)
    from_list = CityscapesDataset(root, "test", list_file="test.txt")
    assert not from_list.labelled and from_list.image_paths == dataset.image_paths


def test_labelled_split_can_be_read_without_labels(root):
    dataset = CityscapesDataset(root, "val", labelled=False)
    assert len(dataset[0]) == 1 and dataset.label_paths is None


@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize("use_shared_memory", [True, False])
def test_paddle_dataloader(root, num_workers, use_shared_memory):
    dataset = CityscapesDataset(root, "train", build_train_transforms(crop_size=(32, 64)))
    loader = paddle.io.DataLoader(
        dataset, batch_size=4, num_workers=num_workers, use_shared_memory=use_shared_memory
    )
    batches = list(loader)
    assert len(batches) == 2
    images, labels = batches[0]
    assert images.shape == [4, 3, 32, 64] and images.dtype == paddle.float32
    assert labels.shape == [4, 32, 64] and labels.dtype == paddle.int64


def test_workers_draw_different_augmentations(tmp_path):
    root = str(tmp_path)
    generate_synthetic_cityscapes(root, num_train=1, num_val=0, size=(64, 128))
    dataset = CityscapesDataset(
        root, "train", build_train_transforms(crop_size=(16, 16), photometric=False, seed=7)
    )
    dataset.image_paths, dataset.label_paths = dataset.image_paths * 4, dataset.label_paths * 4
    loader = paddle.io.DataLoader(dataset, batch_size=1, num_workers=2)
    first_of_each_worker = [batch[0].numpy() for batch in loader][
        :2
    ]  # sample 0 from worker 0, 1 from worker 1
    assert not np.array_equal(*first_of_each_worker)
