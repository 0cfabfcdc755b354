import os

import cv2
import numpy as np
import pytest
from data_fixtures import LFS_POINTER, overwrite, truncate, write_image, write_mask

from pointrend.data.decode import read_image_file, read_mask_file
from pointrend.data.errors import DataFileError


@pytest.fixture(params=[".png", ".jpg"])
def image(tmp_path, request):
    return write_image(str(tmp_path / f"a{request.param}"), 32, 48)


def test_whole_images_decode(image):
    assert read_image_file(image).shape == (32, 48, 3)


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda p: truncate(p), r"truncated (PNG|JPEG)"),
        (lambda p: overwrite(p, b""), r"empty \(0 bytes\)"),
        (lambda p: overwrite(p, LFS_POINTER), "git-LFS pointer.*git lfs pull"),
        (lambda p: overwrite(p, b"<html>Not Found</html>\n"), "text file, not an image .*<html>"),
        (lambda p: overwrite(p, bytes(range(200, 256)) * 10), r"not a (PNG|JPEG)"),
    ],
)
def test_damaged_images_are_named_with_the_cause(image, damage, words):
    damage(image)
    with pytest.raises(
        DataFileError, match=rf"image file {image} cannot be decoded: .*{words}"
    ) as info:
        read_image_file(image)
    assert info.value.path == image and "\n" not in str(info.value)


def test_truncated_jpeg_that_opencv_would_decode_is_caught(tmp_path):
    path = write_image(str(tmp_path / "a.jpg"), 64, 64)
    truncate(path, keep=0.9)
    assert cv2.imread(path) is not None  # OpenCV alone would return a grey-padded image
    with pytest.raises(DataFileError, match="truncated JPEG"):
        read_image_file(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataFileError, match="image file .*nope.png does not exist"):
        read_image_file(str(tmp_path / "nope.png"))


def test_masks_are_read_as_stored(tmp_path):
    index = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(read_mask_file(write_mask(str(tmp_path / "i.png"), index)), index)
    sixteen = read_mask_file(write_mask(str(tmp_path / "s.png"), index.astype(np.uint16) * 1000))
    assert sixteen.dtype == np.uint16
    color = np.zeros((3, 4, 3), dtype=np.uint8)
    color[0, 0] = (255, 0, 0)
    assert tuple(read_mask_file(write_mask(str(tmp_path / "c.png"), color))[0, 0]) == (
        0,
        0,
        255,
    )  # BGR


def test_palette_png_gives_indices(tmp_path):
    from PIL import Image

    indices = np.array([[0, 1], [2, 1]], dtype=np.uint8)
    image = Image.fromarray(indices, mode="P")
    image.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * 759)
    path = str(tmp_path / "voc.png")
    image.save(path)
    np.testing.assert_array_equal(read_mask_file(path), indices)
    assert read_mask_file(path, palette_indices=False).shape == (2, 2, 3)


def test_damaged_mask_is_named_as_a_label(tmp_path):
    path = truncate(write_mask(str(tmp_path / "m.png"), np.zeros((64, 64), np.uint8) + 1))
    with pytest.raises(DataFileError, match=f"label file {path} cannot be decoded: truncated PNG"):
        read_mask_file(path)
    assert os.path.exists(path)
