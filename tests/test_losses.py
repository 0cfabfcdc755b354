"""PointRendLoss: coarse CE at label size, point CE at nearest-sampled labels, ignore handling."""

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from pointrend.models import PointRendLoss


def numpy_cross_entropy(logits, labels, ignore_index=255):
    """logits [K, M], labels [M] -> mean CE over non-ignored entries."""
    valid = labels != ignore_index
    shifted = logits - logits.max(axis=0, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))
    return -log_probs[labels[valid], np.nonzero(valid)[0]].mean()


def test_coarse_term_is_cross_entropy_of_upsampled_logits():
    paddle.seed(0)
    coarse = paddle.randn([2, 3, 4, 6])
    labels = paddle.randint(0, 3, [2, 16, 24])
    labels[0, :5] = 255
    (loss,) = PointRendLoss()(coarse, labels)
    upsampled = F.interpolate(coarse, size=[16, 24], mode="bilinear", align_corners=False).numpy()
    expected = numpy_cross_entropy(
        upsampled.transpose(1, 0, 2, 3).reshape(3, -1), labels.numpy().reshape(-1)
    )
    assert loss.shape == [] and abs(float(loss) - expected) < 1e-5


def test_point_term_uses_labels_at_the_points():
    labels = paddle.to_tensor([[[0, 1], [2, 255]]], dtype="int64")
    # Centres of (row 0, col 1), (row 1, col 0), (row 1, col 1: ignored) and one point outside the
    # image.
    coords = paddle.to_tensor(
        [[[0.75, 0.25], [0.25, 0.75], [0.75, 0.75], [1.2, 0.5]]], dtype="float32"
    )
    point_logits = paddle.to_tensor(np.random.RandomState(0).randn(1, 3, 4).astype("float32"))
    coarse = paddle.zeros([1, 3, 1, 1])
    coarse_loss, point_loss = PointRendLoss()(coarse, point_logits, coords, labels)
    expected = numpy_cross_entropy(point_logits.numpy()[0], np.array([1, 2, 255, 255]))
    assert abs(float(point_loss) - expected) < 1e-5
    assert abs(float(coarse_loss) - np.log(3)) < 1e-5


def test_weights_and_label_shapes():
    paddle.seed(0)
    coarse, point_logits = paddle.randn([1, 3, 4, 4]), paddle.randn([1, 3, 8])
    coords, labels = paddle.rand([1, 8, 2]), paddle.randint(0, 3, [1, 16, 16])
    base = PointRendLoss()(coarse, point_logits, coords, labels)
    weighted = PointRendLoss(coarse_weight=0.5, point_weight=2.0)(
        coarse, point_logits, coords, labels.unsqueeze(1)
    )
    np.testing.assert_allclose(
        [float(w) for w in weighted], [0.5 * float(base[0]), 2.0 * float(base[1])], rtol=1e-6
    )


def test_all_ignored_batch_gives_zero_and_a_finite_gradient():
    coarse = paddle.randn([1, 3, 4, 4])
    coarse.stop_gradient = False
    point_logits = paddle.randn([1, 3, 8])
    point_logits.stop_gradient = False
    labels = paddle.full([1, 16, 16], 255, dtype="int64")
    losses = PointRendLoss()(coarse, point_logits, paddle.rand([1, 8, 2]), labels)
    assert [float(term) for term in losses] == [0.0, 0.0]
    sum(losses).backward()
    assert np.isfinite(coarse.grad.numpy()).all() and not coarse.grad.numpy().any()
    assert np.isfinite(point_logits.grad.numpy()).all()


def test_wrong_number_of_inputs_is_explained():
    with pytest.raises(ValueError, match="coarse_logits"):
        PointRendLoss()(
            paddle.zeros([1, 3, 2, 2]),
            paddle.zeros([1, 3, 4]),
            paddle.zeros([1, 2, 2], dtype="int64"),
        )
