import numpy as np
import paddle

from pointrend.ops import point_sample, sample_labels, uncertainty


def test_point_sample_hits_pixel_centres():
    features = paddle.arange(12, dtype="float32").reshape([1, 1, 3, 4])
    coords = paddle.to_tensor([[[0.5 / 4, 0.5 / 3], [3.5 / 4, 2.5 / 3]]], dtype="float32")
    np.testing.assert_allclose(point_sample(features, coords).numpy(), [[[0.0, 11.0]]], atol=1e-6)


def test_sample_labels_outside_is_ignore():
    labels = paddle.to_tensor([[[1, 2], [3, 4]]], dtype="int64")
    coords = paddle.to_tensor([[[0.25, 0.75], [-0.5, 0.5]]], dtype="float32")
    np.testing.assert_array_equal(sample_labels(labels, coords).numpy(), [[3, 255]])


def test_uncertainty_is_second_minus_first():
    logits = paddle.to_tensor([[[[1.0]], [[3.0]], [[2.5]]]])
    np.testing.assert_allclose(uncertainty(logits).numpy().ravel(), [-0.5])
