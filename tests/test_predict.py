import os

import cv2
import numpy as np
import paddle
import pytest

from pointrend.data import build_val_transforms
from pointrend.data.classes import CITYSCAPES_PALETTE, train_ids_to_label_ids
from pointrend.inference.modes import InferenceOptions
from pointrend.inference.predict_files import find_images, predict_paths
from pointrend.inference.visualize import (
    color_prediction,
    draw_points,
    overlay,
    subdivision_points_picture,
)
from pointrend.models import build_model


@pytest.fixture(scope="module")
def model():
    paddle.seed(0)
    return build_model(
        backbone_depth=18,
        backbone_base_channels=16,
        fpn_channels=32,
        head_channels=16,
        point_head_fc_channels=32,
        subdivision_steps=2,
        subdivision_num_points=128,
    ).eval()


@pytest.fixture
def image_folder(tmp_path):
    root = tmp_path / "input"
    rng = np.random.RandomState(0)
    for relative in ("a.png", "city/b.jpg", "city/deeper/c.bmp"):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), rng.randint(0, 256, size=(40, 72, 3), dtype=np.uint8))
    (root / "city" / "broken.png").write_bytes(b"this is not a PNG")
    (root / "city" / "notes.txt").write_text("not an image extension, not listed")
    return root


def test_find_images_walks_recursively_and_filters_extensions(image_folder):
    relative = [rel for _, rel in find_images(str(image_folder))]
    assert relative == [
        "a.png",
        os.path.join("city", "b.jpg"),
        os.path.join("city", "broken.png"),
        os.path.join("city", "deeper", "c.bmp"),
    ]
    assert find_images(str(image_folder / "a.png")) == [(str(image_folder / "a.png"), "a.png")]


def test_predict_folder_with_a_corrupt_file(model, image_folder, tmp_path):
    output = tmp_path / "output"
    summary = predict_paths(
        model,
        str(image_folder),
        str(output),
        build_val_transforms(),
        save_points=True,
        progress=False,
    )
    assert (
        summary["num_images"] == 4 and summary["num_predicted"] == 3 and summary["num_failed"] == 1
    )
    assert summary["failed"][0]["file"] == os.path.join("city", "broken.png")
    assert "cannot be decoded" in summary["failed"][0]["reason"]

    stems = ["a", os.path.join("city", "b"), os.path.join("city", "deeper", "c")]
    for stem in stems:
        train_ids = cv2.imread(str(output / "trainid" / f"{stem}.png"), cv2.IMREAD_UNCHANGED)
        assert train_ids.shape == (40, 72) and train_ids.max() < 19
        color = cv2.imread(str(output / "color" / f"{stem}.png"))
        np.testing.assert_array_equal(color, color_prediction(train_ids))
        assert cv2.imread(str(output / "overlay" / f"{stem}.jpg")).shape == (40, 72, 3)
        # One panel per subdivision step, stacked.
        assert cv2.imread(str(output / "points" / f"{stem}.png")).shape == (80, 72, 3)
    assert not (output / "trainid" / "city" / "broken.png").exists()


def test_labelid_format_and_eval_modes(model, image_folder, tmp_path):
    trainid_out, labelid_out = tmp_path / "trainid_run", tmp_path / "labelid_run"
    options = dict(
        options=InferenceOptions(
            mode="slide", crop=(32, 48), stride=(16, 24), flip=True, scales=(0.75, 1.0)
        ),
        save_color=False,
        save_overlay=False,
        progress=False,
    )
    predict_paths(
        model, str(image_folder / "a.png"), str(trainid_out), build_val_transforms(), **options
    )
    predict_paths(
        model,
        str(image_folder / "a.png"),
        str(labelid_out),
        build_val_transforms(),
        label_format="labelid",
        **options,
    )
    train_ids = cv2.imread(str(trainid_out / "trainid" / "a.png"), cv2.IMREAD_UNCHANGED)
    label_ids = cv2.imread(str(labelid_out / "labelid" / "a.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(label_ids, train_ids_to_label_ids(train_ids))
    assert not (labelid_out / "color").exists()


def test_bad_options_fail_before_any_work(model, image_folder, tmp_path):
    with pytest.raises(ValueError, match="label_format"):
        predict_paths(
            model, str(image_folder), str(tmp_path), build_val_transforms(), label_format="ids"
        )
    baseline = build_model(
        backbone_depth=18,
        backbone_base_channels=16,
        fpn_channels=32,
        head_channels=16,
        point_head=False,
    )
    with pytest.raises(ValueError, match="save_points"):
        predict_paths(
            baseline, str(image_folder), str(tmp_path), build_val_transforms(), save_points=True
        )
    with pytest.raises(FileNotFoundError, match="neither"):
        predict_paths(model, str(tmp_path / "missing"), str(tmp_path), build_val_transforms())


def test_color_and_overlay_use_the_official_palette():
    train_ids = np.array([[0, 13], [255, 18]], dtype=np.uint8)
    color = color_prediction(train_ids)
    assert tuple(color[0, 1][::-1]) == CITYSCAPES_PALETTE[13] and tuple(color[1, 0]) == (0, 0, 0)
    image = np.full((2, 2, 3), 100, dtype=np.uint8)
    blended = overlay(image, color, alpha=0.5)
    assert tuple(blended[0, 0]) == tuple(
        ((np.array(CITYSCAPES_PALETTE[0][::-1]) + 100) / 2).round().astype(int)
    )


def test_points_picture_marks_the_chosen_cells():
    coarse = np.zeros((4, 8), dtype=np.uint8)
    coords = np.array(
        [[0.5 / 8, 0.5 / 4], [7.5 / 8, 3.5 / 4], [1.2, 0.5]]
    )  # last one is in the padding
    marked = draw_points(color_prediction(coarse), coords)
    changed = np.argwhere((marked != color_prediction(coarse)).any(axis=2))
    np.testing.assert_array_equal(changed, [[0, 0], [3, 7]])
    # On a 2x coarser grid every point covers its whole 2x2 cell.
    cells = np.argwhere(
        (
            draw_points(color_prediction(coarse), np.array([[1.0 / 8, 1.0 / 4]]), 2)
            != color_prediction(coarse)
        ).any(axis=2)
    )
    np.testing.assert_array_equal(cells, [[0, 0], [0, 1], [1, 0], [1, 1]])
    picture = subdivision_points_picture(coarse, [{"coords": coords, "height": 4, "width": 8}] * 2)
    assert picture.shape == (8, 8, 3)
