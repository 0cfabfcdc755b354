import numpy as np
import pytest

from pointrend.inference.metrics import ConfusionMatrix, SegmentationMetrics, boundary_band


def test_confusion_matrix_counts_label_rows_prediction_columns_and_skips_ignore():
    label = np.array([[0, 0, 1, 255], [2, 2, 1, 1]])
    prediction = np.array([[0, 1, 1, 2], [2, 0, 1, 0]])
    matrix = ConfusionMatrix(3)
    matrix.update(prediction, label)
    np.testing.assert_array_equal(matrix.counts, [[1, 1, 0], [1, 2, 0], [1, 0, 1]])


def test_iou_rule_absent_class_excluded_predicted_only_class_counts_zero():
    # class 0: TP 2, FP 1, FN 0 -> 2/3; class 1: TP 1, FP 0, FN 2 -> 1/3;
    # class 2: predicted once, never labelled -> 0; class 3: nowhere -> excluded.
    label = np.array([0, 0, 1, 1, 1])
    prediction = np.array([0, 0, 1, 0, 2])
    matrix = ConfusionMatrix(4)
    matrix.update(prediction, label)
    iou = matrix.iou()
    assert iou[:3] == pytest.approx([2 / 3, 1 / 3, 0.0])
    assert iou[3] is None
    assert matrix.mean_iou() == pytest.approx((2 / 3 + 1 / 3 + 0.0) / 3)
    assert matrix.pixel_accuracy() == pytest.approx(3 / 5)


def test_empty_matrix_has_no_scores():
    matrix = ConfusionMatrix(2)
    matrix.update(np.zeros((2, 2), int), np.full((2, 2), 255))
    assert matrix.mean_iou() is None and matrix.pixel_accuracy() is None


def test_out_of_range_label_is_a_clear_error():
    with pytest.raises(ValueError, match="label values"):
        ConfusionMatrix(2).update(np.zeros(3, int), np.array([0, 1, 7]))


def test_boundary_band_on_hand_made_map():
    label = np.zeros((6, 8), dtype=np.int64)
    label[:, 4:] = 1
    label[0, 0] = 255
    band = boundary_band(label, 1)
    expected = np.zeros((6, 8), dtype=bool)
    expected[:, 3:5] = True
    # The ignore pixel is a label change for its neighbours (and for itself).
    expected[0:2, 0:2] = True
    np.testing.assert_array_equal(band, expected)
    wider = boundary_band(label, 2)
    assert wider[:, 2:6].all() and not wider[3:, :1].any() and not wider[:, 7:].any()


def test_boundary_miou_only_counts_the_band_and_ignore_stays_ignored():
    label = np.zeros((4, 8), dtype=np.int64)
    label[:, 4:] = 1
    label[:, 0] = 255
    prediction = np.zeros_like(label)
    prediction[:, 4] = 0  # one wrong column right at the edge
    prediction[:, 5:] = 1
    prediction[:, 7] = 0  # one wrong column far from the edge
    metrics = SegmentationMetrics(num_classes=2, boundary_width=1)
    metrics.update(prediction, label)
    results = metrics.results(["a", "b"])
    # Band (width 1): columns 3, 4 (class edge), 1 (next to ignore); column 0 is ignore.
    # Band counts: label 0 -> pred 0: 8 (columns 1, 3); label 1 -> pred 0: 4 (column 4).
    assert results["per_class_boundary_IoU"] == pytest.approx({"a": 8 / 12, "b": 0.0})
    # Whole image: label 0 -> 0: 12; label 1 -> 0: 8 (columns 4, 7); label 1 -> 1: 8.
    assert results["per_class_IoU"] == pytest.approx({"a": 12 / 20, "b": 8 / 16})
    assert results["pixel_accuracy"] == pytest.approx(20 / 28)
