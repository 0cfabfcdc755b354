"""STDC-Seg losses: OHEM cross-entropy regimes, detail boundary targets, the four-term STDC loss."""

from __future__ import annotations

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from pointrend.models import (
    STDC_LOSS_NAMES,
    DetailAggregateLoss,
    OhemCrossEntropyLoss,
    STDCLoss,
    build_stdc_seg,
)
from pointrend.models.detail_loss import boundary_target
from pointrend.models.ohem_loss import ohem_kept_mask

IGNORE = 255


def logits_with_label_probabilities(probabilities: np.ndarray) -> paddle.Tensor:
    """Two-class logits [1, 2, 1, P] whose softmax gives class 0 the given probabilities."""
    p = probabilities.astype(np.float64)
    logits = np.stack([np.log(p), np.log(1 - p)])[None, :, None, :]
    return paddle.to_tensor(logits.astype(np.float32))


def test_ohem_keeps_every_labelled_pixel_when_the_batch_has_at_most_min_kept():
    paddle.seed(0)
    logits = paddle.randn([2, 4, 5, 6])
    labels = paddle.randint(0, 4, [2, 5, 6])
    labels[0, 0, :] = IGNORE
    kept = ohem_kept_mask(logits, labels, thresh=0.7, min_kept=54, ignore_index=IGNORE)
    np.testing.assert_array_equal(kept.numpy(), (labels != IGNORE).numpy())
    loss = OhemCrossEntropyLoss(min_kept=54)(logits, labels)
    per_pixel = F.cross_entropy(
        logits, labels.unsqueeze(1), ignore_index=IGNORE, reduction="none", axis=1
    )
    valid_fraction = 54 / 60
    expected = per_pixel.sum().item() / 60 / (valid_fraction + 1e-5)
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-6)


def test_ohem_keeps_min_kept_minus_one_pixels_when_the_min_kept_th_probability_exceeds_thresh():
    probabilities = np.array([0.95, 0.8, 0.99, 0.75, 0.9, 0.85, 0.97, 0.72])
    labels = paddle.zeros([1, 1, 8], dtype="int64")
    kept = ohem_kept_mask(
        logits_with_label_probabilities(probabilities), labels, 0.7, 4, IGNORE
    ).numpy()
    # 4th smallest is 0.85: the strict < keeps the three below it.
    np.testing.assert_array_equal(kept[0, 0], probabilities < 0.85)


def test_ohem_keeps_pixels_below_thresh_when_enough_of_them_are_hard():
    probabilities = np.array([0.1, 0.8, 0.3, 0.65, 0.9, 0.2, 0.69, 0.99])
    labels = paddle.zeros([1, 1, 8], dtype="int64")
    kept = ohem_kept_mask(
        logits_with_label_probabilities(probabilities), labels, 0.7, 3, IGNORE
    ).numpy()
    np.testing.assert_array_equal(kept[0, 0], probabilities < 0.7)


def test_ohem_never_counts_ignored_pixels_among_the_hardest():
    probabilities = np.array([0.01, 0.02, 0.8, 0.9, 0.95, 0.99])
    labels = paddle.to_tensor([[[IGNORE, IGNORE, 0, 0, 0, 0]]], dtype="int64")
    kept = ohem_kept_mask(
        logits_with_label_probabilities(probabilities), labels, 0.7, 3, IGNORE
    ).numpy()
    np.testing.assert_array_equal(kept[0, 0], [False, False, True, True, False, False])


def test_ohem_loss_of_an_all_ignored_batch_is_zero_and_differentiable():
    logits = paddle.randn([1, 3, 4, 4])
    logits.stop_gradient = False
    loss = OhemCrossEntropyLoss(min_kept=2)(logits, paddle.full([1, 4, 4], IGNORE, dtype="int64"))
    loss.backward()
    assert loss.item() == 0.0
    assert float(paddle.abs(logits.grad).sum()) == 0.0


def test_boundary_target_marks_a_vertical_edge_at_strides_1_and_2_with_the_default_kernel():
    labels = np.zeros([1, 64, 64], dtype="int64")
    labels[:, :, 32:] = 1
    target = DetailAggregateLoss().boundary_target(paddle.to_tensor(labels)).numpy()[0, 0]
    # Away from the top and bottom borders: the first column of class 1 (stride 1), its stride-2
    # cell (columns 32-33), and column 63, where the zero padding meets class 1. The stride-4
    # cell (columns 32-35) alone has weight 0.1, which does not pass the > 0.1 test.
    assert sorted(set(np.nonzero(target[8:56])[1])) == [32, 33, 63]
    stride4_only = boundary_target(
        paddle.to_tensor(labels), paddle.to_tensor([0.0, 0.0, 1.0]).reshape([1, 3, 1, 1])
    )
    assert sorted(set(np.nonzero(stride4_only.numpy()[0, 0, 8:56])[1])) == [32, 33, 34, 35]


def test_boundary_target_is_empty_for_class_0_and_rings_the_border_of_other_classes():
    """The Laplacian pads with 0, so (as in PaddleSeg) the image border of other classes is an edge
    too."""
    assert (
        DetailAggregateLoss().boundary_target(paddle.zeros([1, 16, 16], dtype="int64")).sum().item()
        == 0
    )
    target = (
        DetailAggregateLoss()
        .boundary_target(paddle.full([1, 16, 16], 3, dtype="int64"))
        .numpy()[0, 0]
    )
    assert target[0].all() and target[:, -1].all() and not target[4:12, 4:12].any()


def test_detail_loss_is_small_for_confident_correct_logits_and_large_for_inverted_ones():
    labels = paddle.zeros([1, 32, 32], dtype="int64")
    labels[:, :, 16:] = 1
    loss = DetailAggregateLoss()
    target = loss.boundary_target(labels)
    correct, inverted = loss(20 * (2 * target - 1), labels), loss(-20 * (2 * target - 1), labels)
    assert correct.item() < 1e-3 and inverted.item() > 10
    bce, dice = loss.terms(20 * (2 * target - 1), labels)
    np.testing.assert_allclose((bce + dice).item(), correct.item(), rtol=1e-6)


def test_detail_loss_rejects_a_fuse_kernel_of_the_wrong_length():
    with pytest.raises(ValueError, match="fuse_weights needs 3 values"):
        DetailAggregateLoss([1.0, 0.0])


def test_stdc_loss_returns_four_weighted_scalar_terms_and_trains_the_used_heads():
    paddle.seed(0)
    model = build_stdc_seg("stdc1", num_classes=4)
    model.train()
    images = paddle.rand([2, 3, 32, 48])
    labels = paddle.randint(0, 4, [2, 32, 48])
    outputs = model(images)
    terms = STDCLoss(min_kept=100)(*outputs, labels)
    assert len(terms) == len(STDC_LOSS_NAMES) and all(term.shape == [] for term in terms)
    doubled = STDCLoss(min_kept=100, weights=(2, 2, 2, 2))(*[o.detach() for o in outputs], labels)
    for term, double in zip(terms, doubled, strict=True):
        np.testing.assert_allclose(double.item(), 2 * term.item(), rtol=1e-6)
    paddle.add_n(terms).backward()
    for head in ("conv_out", "conv_out8", "conv_out16", "conv_out_sp8"):
        assert getattr(model, head).conv_out.weight.grad is not None, head
    assert model.conv_out_sp4.conv_out.weight.grad is None


def test_stdc_loss_names_its_inputs_when_called_wrongly():
    with pytest.raises(
        ValueError, match="logits, aux8_logits, aux16_logits, detail_logits, labels"
    ):
        STDCLoss()(paddle.zeros([1, 2, 4, 4]), paddle.zeros([1, 4, 4], dtype="int64"))
