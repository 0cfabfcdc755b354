import numpy as np
import pytest

from pointrend.data.transforms import CatMaxRatioCrop, build_train_transforms, build_val_transforms

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _sample(height=60, width=80, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    label = rng.integers(0, 19, (height, width), dtype=np.uint8)
    label[:5] = 255
    return image, label


def test_train_output_is_a_normalised_crop_with_valid_labels():
    image, label = _sample()
    transforms = build_train_transforms(crop_size=(32, 48), seed=0)
    for _ in range(10):
        out = transforms(image=image, mask=label)
        assert out["image"].shape == (32, 48, 3) and out["image"].dtype == np.float32
        assert out["mask"].shape == (32, 48)
        assert set(np.unique(out["mask"])) <= set(range(19)) | {
            255
        }  # nearest: no blended label values


def test_small_images_are_padded_with_zero_and_ignore_after_normalisation():
    image, label = _sample(20, 30)
    transforms = build_train_transforms(
        crop_size=(32, 48), scale_range=None, flip_prob=0.0, photometric=False
    )
    out = transforms(image=image, mask=label)
    assert out["image"].shape == (32, 48, 3)
    np.testing.assert_array_equal(out["mask"][:20, :30], label)  # the image sits top-left
    assert (out["mask"][20:] == 255).all() and (out["mask"][:, 30:] == 255).all()
    assert (out["image"][20:] == 0).all() and (out["image"][:, 30:] == 0).all()


def test_normalize_semantics_and_channel_order():
    image = np.zeros((4, 4, 3), dtype=np.uint8)
    image[..., 0] = 255  # blue in OpenCV's BGR order
    rgb = build_val_transforms(mean=MEAN, std=STD)(image=image)["image"][0, 0]
    np.testing.assert_allclose(
        rgb, [(0 - MEAN[0]) / STD[0], (0 - MEAN[1]) / STD[1], (1 - MEAN[2]) / STD[2]], rtol=1e-5
    )
    caffe = build_val_transforms(
        mean=(103.53, 116.28, 123.675), std=(1.0, 1.0, 1.0), to_rgb=False, max_pixel_value=1.0
    )(image=image)["image"][0, 0]
    np.testing.assert_allclose(caffe, [255 - 103.53, -116.28, -123.675], rtol=1e-5)


def test_val_transforms_keep_the_whole_image_and_label():
    image, label = _sample()
    out = build_val_transforms()(image=image, mask=label)
    assert out["image"].shape == (60, 80, 3)
    np.testing.assert_array_equal(out["mask"], label)


def test_scale_range_resizes_labels_with_nearest_neighbour():
    image, label = _sample(40, 40)
    transforms = build_train_transforms(
        crop_size=None, scale_range=(2.0, 2.0), flip_prob=0.0, photometric=False
    )
    out = transforms(image=image, mask=label)
    assert out["mask"].shape == (80, 80)
    np.testing.assert_array_equal(out["mask"][::2, ::2], label)


def test_stepped_scales_only_produce_grid_sizes():
    image, label = _sample(40, 40)
    transforms = build_train_transforms(
        crop_size=None, scale_range=(0.5, 1.5), scale_step=0.5, photometric=False, seed=1
    )
    sizes = {transforms(image=image, mask=label)["mask"].shape[0] for _ in range(30)}
    assert sizes == {20, 40, 60}


def test_flip_probability_one_mirrors_the_label():
    image, label = _sample()
    transforms = build_train_transforms(
        crop_size=None, scale_range=None, flip_prob=1.0, photometric=False
    )
    np.testing.assert_array_equal(transforms(image=image, mask=label)["mask"], label[:, ::-1])


def test_photometric_changes_pixels_but_not_labels():
    image, label = _sample()
    common = dict(crop_size=None, scale_range=None, flip_prob=0.0, seed=0)
    plain = build_train_transforms(photometric=False, **common)(image=image, mask=label)
    jittered = build_train_transforms(photometric=True, photometric_prob=1.0, **common)(
        image=image, mask=label
    )
    assert not np.allclose(plain["image"], jittered["image"])
    np.testing.assert_array_equal(plain["mask"], jittered["mask"])


def _one_class_dominated_label():
    label = np.zeros((100, 100), dtype=np.uint8)
    label[:, 90:] = 1  # only crops touching the right edge have a second class
    return label


def test_cat_max_ratio_crop_redraws_dominated_crops():
    label = _one_class_dominated_label()
    image = np.zeros((100, 100, 3), dtype=np.uint8)
    balanced = CatMaxRatioCrop(20, 20, cat_max_ratio=0.75, max_tries=200)
    balanced.set_random_seed(0)
    crops = [balanced(image=image, mask=label)["mask"] for _ in range(20)]
    assert all((crop == 1).mean() >= 0.25 for crop in crops)


def test_cat_max_ratio_one_is_a_plain_random_crop():
    label = _one_class_dominated_label()
    plain = CatMaxRatioCrop(20, 20, cat_max_ratio=1.0)
    plain.set_random_seed(0)
    crops = [plain(image=np.zeros((100, 100, 3), np.uint8), mask=label)["mask"] for _ in range(20)]
    assert any((crop == 0).all() for crop in crops)


def test_cat_max_ratio_counts_only_labelled_pixels():
    crop = CatMaxRatioCrop(10, 10, cat_max_ratio=0.75)
    mostly_ignored = np.full((10, 10), 255, dtype=np.uint8)
    mostly_ignored[0, :] = 0
    mostly_ignored[1, :] = 1
    assert crop._is_balanced(mostly_ignored)  # 50/50 among labelled pixels, although 80% is ignore
    mostly_ignored[1, :] = 255
    assert not crop._is_balanced(mostly_ignored)  # a single class is never balanced


def test_crop_larger_than_image_is_clipped_then_padded():
    image, label = _sample(30, 30)
    out = build_train_transforms(crop_size=(64, 64), scale_range=None, photometric=False)(
        image=image, mask=label
    )
    assert out["image"].shape == (64, 64, 3)
    assert (out["mask"] != 255).sum() == (label != 255).sum()


def test_cat_max_ratio_crop_rejects_zero_tries():
    with pytest.raises(ValueError, match="max_tries"):
        CatMaxRatioCrop(10, 10, max_tries=0)
