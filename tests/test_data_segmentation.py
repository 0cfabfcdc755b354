import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from data_fixtures import (
    make_custom5,
    make_index_dataset,
    three_class_mask,
    truncate,
    write_spec_json,
)

from pointrend.data import (
    CityscapesDataset,
    SegmentationDataset,
    build_train_transforms,
    generate_synthetic_cityscapes,
)
from pointrend.data.decode import read_mask_file
from pointrend.data.presets import spec_for_root
from pointrend.data.sample_errors import BadSampleError, SampleError, error_safe_loader
from pointrend.data.synthetic_custom import CUSTOM5_CLASSES, CUSTOM5_PALETTE

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def custom5(tmp_path_factory):
    return make_custom5(str(tmp_path_factory.mktemp("custom5")), num_train=4, num_val=2, num_test=1)


def test_custom5_colour_masks_become_train_ids(custom5):
    dataset = SegmentationDataset(spec_for_root(custom5), "train")
    assert len(dataset) == 4 and dataset.labelled and dataset.num_classes == 5
    assert dataset.class_names == CUSTOM5_CLASSES and dataset.palette == CUSTOM5_PALETTE
    image, label = dataset[1]
    assert image.shape == (3, 48, 96) and label.dtype == np.int64
    rgb = read_mask_file(dataset.label_paths[1])[..., ::-1]
    for class_index, color in enumerate(CUSTOM5_PALETTE):
        np.testing.assert_array_equal(label == class_index, np.all(rgb == color, axis=-1))
    np.testing.assert_array_equal(label == 255, np.all(rgb == 0, axis=-1))
    assert set(np.unique(label)) <= {0, 1, 2, 3, 4, 255}


def test_unlabelled_split_and_transforms(custom5):
    spec = spec_for_root(custom5)
    test = SegmentationDataset(spec, "test")
    assert not test.labelled and len(test[0]) == 1
    train = SegmentationDataset(spec, "train", build_train_transforms(crop_size=(32, 32), seed=0))
    image, label = train[0]
    assert image.shape == (3, 32, 32) and label.shape == (32, 32)


def test_index_masks_with_value_map(tmp_path):
    raw = three_class_mask() * 100  # values 0, 100, 200
    raw[0, 0] = 255
    root = make_index_dataset(
        str(tmp_path), {"a": raw}, spec={"value_map": {"0": 0, "100": 1, "200": 2, "255": 255}}
    )
    dataset = SegmentationDataset(spec_for_root(root), "train")
    _, label = dataset[0]
    expected = three_class_mask().astype(np.int64)
    expected[0, 0] = 255
    np.testing.assert_array_equal(label, expected)
    assert len(dataset.palette) == 3  # generated when dataset.json has none


def test_list_file_split(tmp_path):
    root = make_index_dataset(str(tmp_path), {"a": three_class_mask(), "b": three_class_mask()})
    (tmp_path / "train.txt").write_text(
        "images/train/b.png masks/train/b.png\nimages/train/a.png masks/train/a.png\n"
    )
    write_spec_json(root, splits={"train": {"list": "train.txt"}}, list_separator=" ")
    dataset = SegmentationDataset(spec_for_root(root), "train")
    assert [os.path.basename(p) for p in dataset.image_paths] == ["b.png", "a.png"]


def test_cityscapes_dataset_is_the_preset(tmp_path):
    generate_synthetic_cityscapes(str(tmp_path), num_train=2, num_val=1, size=(32, 64))
    dataset = CityscapesDataset(str(tmp_path), "val")
    generic = SegmentationDataset(spec_for_root(str(tmp_path)), "val")
    assert isinstance(dataset, SegmentationDataset) and dataset.num_classes == 19
    assert generic.image_paths == dataset.image_paths and generic.label_paths == dataset.label_paths
    np.testing.assert_array_equal(generic[0][1], dataset[0][1])


@pytest.mark.parametrize("num_workers", [0, 2])
def test_skip_mode_drops_and_lists_bad_samples(custom5, tmp_path, num_workers):
    import shutil

    root = str(tmp_path / "copy")
    shutil.copytree(custom5, root)
    dataset = SegmentationDataset(spec_for_root(root), "train")
    truncate(dataset.image_paths[2])
    loader = error_safe_loader(dataset, "skip", batch_size=2, num_workers=num_workers)
    sizes = [batch[0].shape[0] for batch in loader]
    assert sizes == [2, 1] and len(loader) == 2
    assert [(error.index, error.path) for error in loader.skipped] == [(2, dataset.image_paths[2])]
    assert (
        isinstance(loader.skipped[0], SampleError) and "truncated JPEG" in loader.skipped[0].cause
    )


def test_error_mode_raises_in_the_main_thread(custom5, tmp_path):
    import shutil

    root = str(tmp_path / "copy")
    shutil.copytree(custom5, root)
    dataset = SegmentationDataset(spec_for_root(root), "train")
    truncate(dataset.label_paths[3])
    with pytest.raises(
        BadSampleError, match=f"label file {dataset.label_paths[3]} cannot be decoded"
    ):
        list(error_safe_loader(dataset, batch_size=1, num_workers=0))


_LOADER_SCRIPT = textwrap.dedent("""
    import sys
    from pointrend.data.presets import spec_for_root
    from pointrend.data.sample_errors import BadSampleError, error_safe_loader
    from pointrend.data.segmentation import SegmentationDataset

    dataset = SegmentationDataset(spec_for_root(sys.argv[1]), "train")
    try:
        for _ in error_safe_loader(dataset, batch_size=2, num_workers=int(sys.argv[2])):
            pass
    except BadSampleError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
""")


@pytest.mark.parametrize("num_workers", [0, 2])
def test_truncated_image_in_a_loader_ends_in_one_line_naming_the_file(
    custom5, tmp_path, num_workers
):
    import shutil

    root = str(tmp_path / "copy")
    shutil.copytree(custom5, root)
    bad = sorted(os.listdir(os.path.join(root, "images", "train")))[1]
    bad_path = truncate(os.path.join(root, "images", "train", bad))
    result = subprocess.run(
        [sys.executable, "-c", _LOADER_SCRIPT, root, str(num_workers)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1, result.stderr
    expected = (
        f"error: image file {bad_path} cannot be decoded: truncated JPEG (the end marker is "
        "missing); re-extract or re-download it (`python -m pointrend.data.prepare check "
        "--root=<dataset root>` lists every such file)"
    )
    assert errors == [expected]
    assert "Traceback" not in result.stderr and "Blocking queue" not in result.stderr
