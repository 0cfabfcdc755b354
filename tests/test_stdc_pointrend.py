"""PointRend on STDC-Seg: training outputs and loss terms, subdivision to full resolution,
export."""

from __future__ import annotations

import numpy as np
import paddle
import pytest

from pointrend.inference.export import export_model
from pointrend.inference.normalization import Normalization
from pointrend.inference.predictor import Predictor
from pointrend.models import (
    STDC_POINTREND_LOSS_NAMES,
    STDCLoss,
    STDCPointRend,
    STDCPointRendLoss,
    build_stdc_network,
)

NUM_CLASSES = 5


def tiny_stdc_pointrend(fine_feature_stride: int = 8) -> STDCPointRend:
    paddle.seed(0)
    return build_stdc_network(
        "stdc1",
        NUM_CLASSES,
        point_head=True,
        fine_feature_stride=fine_feature_stride,
        point_head_fc_channels=16,
        train_num_points=48,
        subdivision_steps=3,
        subdivision_num_points=256,
    )


@pytest.fixture(scope="module")
def model() -> STDCPointRend:
    return tiny_stdc_pointrend()


@pytest.mark.parametrize("stride, channels", [(8, 256), (4, 64)])
def test_training_returns_stdc_outputs_then_points_on_the_chosen_backbone_map(stride, channels):
    network = tiny_stdc_pointrend(stride)
    assert network.point_head.fcs[0].weight.shape[1] == channels + NUM_CLASSES
    network.train()
    outputs = network(paddle.rand([2, 3, 64, 96]))
    logits, aux8, aux16, detail, point_logits, coords = outputs
    assert logits.shape == [2, NUM_CLASSES, 8, 12] and aux8.shape == [2, NUM_CLASSES, 8, 12]
    assert aux16.shape == [2, NUM_CLASSES, 4, 6] and detail.shape == [2, 1, 8, 12]
    assert point_logits.shape == [2, NUM_CLASSES, 48] and coords.shape == [2, 48, 2]


def test_loss_is_the_stdc_terms_plus_the_point_cross_entropy(model):
    model.train()
    labels = paddle.randint(0, NUM_CLASSES, [2, 64, 96])
    outputs = model(paddle.rand([2, 3, 64, 96]))
    stdc_loss = STDCLoss(min_kept=100)
    terms = STDCPointRendLoss(stdc_loss, point_weight=0.5)(*outputs, labels)
    assert len(terms) == len(STDC_POINTREND_LOSS_NAMES) == 5
    expected = stdc_loss(*outputs[:4], labels)
    for term, reference in zip(terms[:4], expected, strict=True):
        np.testing.assert_allclose(float(term), float(reference), rtol=1e-6)
    point_logits, coords = outputs[4], outputs[5]
    point_labels = paddle.to_tensor(_nearest_labels(labels.numpy(), coords.numpy()))
    ce = paddle.nn.functional.cross_entropy(point_logits, point_labels.unsqueeze(1), axis=1)
    np.testing.assert_allclose(float(terms[4]), 0.5 * float(ce), rtol=1e-5)
    sum(terms).backward()
    assert model.point_head.predictor.weight.grad is not None
    assert model.backbone.conv_out16.conv_out.weight.grad is not None


def _nearest_labels(labels: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """labels [N, H, W] at coords [N, P, 2] (x, y in [0, 1]) by nearest pixel centre -> [N, P]."""
    height, width = labels.shape[1:]
    columns = np.clip(np.floor(coords[..., 0] * width), 0, width - 1).astype(int)
    rows = np.clip(np.floor(coords[..., 1] * height), 0, height - 1).astype(int)
    return np.stack([labels[n, rows[n], columns[n]] for n in range(labels.shape[0])])


def test_loss_rejects_stdc_seg_outputs_without_points():
    outputs = [paddle.zeros([1, NUM_CLASSES, 2, 2])] * 3 + [paddle.zeros([1, 1, 2, 2])]
    with pytest.raises(ValueError, match="6 training outputs"):
        STDCPointRendLoss(STDCLoss())(*outputs, paddle.zeros([1, 16, 16], dtype="int64"))


@pytest.mark.parametrize("size", [(64, 96), (50, 75)])
def test_eval_subdivides_stride_8_logits_to_full_resolution(model, size):
    model.eval()
    trace: list[dict] = []
    with paddle.no_grad():
        logits = model.predict(paddle.rand([1, 3, *size]), trace)
    assert logits.shape == [1, NUM_CLASSES, *size]
    padded = [-(-s // 32) * 32 for s in size]
    # Three doublings from stride 8 reach the padded input size.
    assert [(step["height"], step["width"]) for step in trace] == [
        (padded[0] // 4, padded[1] // 4),
        (padded[0] // 2, padded[1] // 2),
        tuple(padded),
    ]


def test_subdivision_changes_the_prediction_and_zero_steps_upsamples(model):
    model.eval()
    images = paddle.rand([1, 3, 64, 96])
    with paddle.no_grad():
        refined = model(images).numpy()
        model.subdivision_steps = 0
        coarse = model(images).numpy()
        upsampled = paddle.nn.functional.interpolate(
            model.extract(images)[1], size=[64, 96], mode="bilinear", align_corners=False
        ).numpy()
        model.subdivision_steps = 3
    np.testing.assert_allclose(coarse, upsampled, atol=1e-5)
    assert np.abs(refined - coarse).max() > 1e-3


def test_training_crop_must_be_a_multiple_of_32(model):
    model.train()
    with pytest.raises(ValueError, match="multiple of 32"):
        model(paddle.rand([1, 3, 48, 64]))


def test_an_unsupported_fine_feature_stride_is_a_clear_error():
    with pytest.raises(ValueError, match="fine_feature_stride must be one of"):
        build_stdc_network("stdc1", NUM_CLASSES, point_head=True, fine_feature_stride=16)


def test_exported_model_subdivides_like_the_dynamic_model(model, tmp_path):
    model.eval()
    directory = str(tmp_path / "exported")
    export_model(model, directory, Normalization((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), True, 255.0))
    images = np.random.RandomState(0).randn(1, 3, 64, 96).astype(np.float32)
    with paddle.no_grad():
        expected = model(paddle.to_tensor(images)).numpy()
    logits = Predictor(directory, device="cpu", num_threads=1).logits(images)
    assert logits.shape == (1, NUM_CLASSES, 64, 96)
    np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=0)
