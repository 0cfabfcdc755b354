import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from pointrend.inference.modes import InferenceOptions, eval_mode, predict_probabilities


class PixelwiseModel(paddle.nn.Layer):
    """Logits from a 1x1 convolution: no spatial context, so every view must agree."""

    def __init__(self, num_classes=4):
        super().__init__()
        self.conv = paddle.nn.Conv2D(3, num_classes, 1)

    def forward(self, images):
        return self.conv(images)


class WindowMeanModel(paddle.nn.Layer):
    """Two classes with logits (0, mean of the input's first channel over the whole view)."""

    def forward(self, images):
        mean = (
            images[:, :1]
            .mean(axis=[2, 3], keepdim=True)
            .expand([images.shape[0], 1, *images.shape[2:]])
        )
        return paddle.concat([paddle.zeros_like(mean), mean], axis=1)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.fixture
def image():
    paddle.seed(0)
    return paddle.randn([1, 3, 20, 28])


def test_whole_returns_softmax_at_input_size(image):
    paddle.seed(1)
    model = PixelwiseModel().eval()
    probs = predict_probabilities(model, image)
    np.testing.assert_allclose(probs.numpy(), F.softmax(model(image), axis=1).numpy(), atol=1e-6)


def test_slide_equals_whole_for_context_free_model_including_padding(image):
    model = PixelwiseModel().eval()
    whole = predict_probabilities(model, image)
    # The crop is taller than the image (padding) and overlaps along the width.
    slide = predict_probabilities(
        model, image, InferenceOptions(mode="slide", crop=(32, 12), stride=(16, 8))
    )
    np.testing.assert_allclose(slide.numpy(), whole.numpy(), atol=1e-6)


def test_slide_averages_overlapping_windows():
    image = paddle.zeros([1, 3, 4, 6])
    image[:, 0, :, :2] = 3.0
    probs = predict_probabilities(
        WindowMeanModel(), image, InferenceOptions(mode="slide", crop=(4, 4), stride=(4, 2))
    )
    # Windows start at columns 0 and 2; their first-channel means are 1.5 and 0.
    first, second = _sigmoid(1.5), _sigmoid(0.0)
    expected = np.array([first, first, (first + second) / 2, (first + second) / 2, second, second])
    np.testing.assert_allclose(probs.numpy()[0, 1, 0], expected, atol=1e-6)


def test_flip_averages_the_mirrored_view(image):
    paddle.seed(2)
    conv = paddle.nn.Conv2D(3, 4, 3, padding=1)  # asymmetric kernel: flipping changes its output
    model = paddle.nn.Sequential(conv).eval()
    probs = predict_probabilities(model, image, InferenceOptions(flip=True))
    direct = F.softmax(model(image), axis=1)
    mirrored = paddle.flip(F.softmax(model(paddle.flip(image, axis=[3])), axis=1), axis=[3])
    np.testing.assert_allclose(probs.numpy(), ((direct + mirrored) / 2).numpy(), atol=1e-6)


def test_scales_resize_each_view_and_average_at_full_resolution(image):
    model = PixelwiseModel().eval()
    probs = predict_probabilities(model, image, InferenceOptions(scales=(0.5, 1.0)))
    small = F.interpolate(image, size=[10, 14], mode="bilinear", align_corners=False)
    small_logits = F.interpolate(model(small), size=[20, 28], mode="bilinear", align_corners=False)
    expected = (F.softmax(small_logits, axis=1) + F.softmax(model(image), axis=1)) / 2
    np.testing.assert_allclose(probs.numpy(), expected.numpy(), atol=1e-6)


def test_a_single_reduced_scale_resizes_the_logits_not_the_probabilities():
    """STDC's Seg50: the image at half size, its logits resized back to full size, then softmax
    (PaddleSeg's order). Resizing probabilities instead would give different values."""
    paddle.seed(3)
    image = paddle.randn([1, 3, 21, 30])
    model = PixelwiseModel().eval()
    probs = predict_probabilities(model, image, InferenceOptions(scales=(0.5,)))
    # Sizes round half up: 10.5 -> 11, 15 -> 15.
    small = F.interpolate(image, size=[11, 15], mode="bilinear", align_corners=False)
    logits = F.interpolate(model(small), size=[21, 30], mode="bilinear", align_corners=False)
    expected = F.softmax(logits, axis=1).numpy()
    np.testing.assert_allclose(probs.numpy(), expected, atol=1e-6)
    resized_probabilities = F.interpolate(
        F.softmax(model(small), axis=1), size=[21, 30], mode="bilinear", align_corners=False
    ).numpy()
    assert np.abs(resized_probabilities - expected).max() > 1e-3


def test_logits_averaging_takes_one_softmax_of_the_views_mean_logits(image):
    """PaddleSeg 2.8's aug eval: the views' raw logits (each resized to full size) are
    averaged, then one softmax; averaging probabilities gives other numbers."""
    paddle.seed(4)
    model = paddle.nn.Sequential(paddle.nn.Conv2D(3, 4, 3, padding=1)).eval()
    probs = predict_probabilities(
        model, image, InferenceOptions(scales=(0.5, 1.0), flip=True, average="logits")
    )
    views = []
    for size in ([10, 14], [20, 28]):
        scaled = F.interpolate(image, size=size, mode="bilinear", align_corners=False)
        for mirrored in (False, True):
            view = paddle.flip(scaled, axis=[3]) if mirrored else scaled
            logits = model(view)
            logits = paddle.flip(logits, axis=[3]) if mirrored else logits
            views.append(F.interpolate(logits, size=[20, 28], mode="bilinear", align_corners=False))
    expected = F.softmax(sum(views) / 4, axis=1).numpy()
    np.testing.assert_allclose(probs.numpy(), expected, atol=1e-6)
    averaged_probabilities = predict_probabilities(
        model, image, InferenceOptions(scales=(0.5, 1.0), flip=True)
    )
    assert np.abs(averaged_probabilities.numpy() - expected).max() > 1e-3


def test_logits_averaging_over_slide_windows():
    image = paddle.zeros([1, 3, 4, 6])
    image[:, 0, :, :2] = 3.0
    probs = predict_probabilities(
        WindowMeanModel(),
        image,
        InferenceOptions(mode="slide", crop=(4, 4), stride=(4, 2), average="logits"),
    )
    # Window logits 1.5 and 0 overlap in columns 2-3: their mean 0.75, then the softmax.
    expected = _sigmoid(np.array([1.5, 1.5, 0.75, 0.75, 0.0, 0.0]))
    np.testing.assert_allclose(probs.numpy()[0, 1, 0], expected, atol=1e-6)


def test_all_modes_combined_give_a_distribution(image):
    probs = predict_probabilities(
        PixelwiseModel().eval(),
        image,
        InferenceOptions(mode="slide", scales=(0.75, 1.25), flip=True, crop=16, stride=8),
    )
    assert probs.shape == [1, 4, 20, 28]
    np.testing.assert_allclose(probs.sum(axis=1).numpy(), 1.0, atol=1e-5)


def test_invalid_options_are_clear_errors(image):
    model = PixelwiseModel().eval()
    with pytest.raises(ValueError, match="crop"):
        InferenceOptions(mode="slide")
    with pytest.raises(ValueError, match="mode"):
        InferenceOptions(mode="tiles")
    with pytest.raises(ValueError, match="scales"):
        InferenceOptions(scales=())
    with pytest.raises(ValueError, match="average"):
        InferenceOptions(average="votes")
    with pytest.raises(ValueError, match="stride"):
        InferenceOptions(mode="slide", crop=16, stride=(0, 8))
    with pytest.raises(ValueError, match="image must be"):
        predict_probabilities(model, image[0])


def test_eval_mode_restores_training_state():
    model = PixelwiseModel()
    model.train()
    with eval_mode(model):
        assert not model.training
    assert model.training
