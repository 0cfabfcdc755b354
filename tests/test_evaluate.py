import json

import numpy as np
import paddle
import pytest

from pointrend.inference import evaluate as evaluate_module
from pointrend.inference.evaluate import (
    evaluate_dataset,
    evaluate_with_and_without_subdivision,
    format_comparison_table,
    format_results_table,
    write_results_json,
)
from pointrend.inference.metrics import SegmentationMetrics
from pointrend.inference.modes import InferenceOptions

NUM_CLASSES = 3
# Hand-computed counts[label, prediction] over the two images of `ToyDataset` (see there).
EXPECTED_COUNTS = np.array([[32, 16, 0], [0, 16, 32], [0, 0, 80]])
EXPECTED_IOU = [32 / 48, 16 / 64, 80 / 112]


class OneHotModel(paddle.nn.Layer):
    """Predicts the class whose input channel is hot, confidently; records subdivision_steps per
    call."""

    def __init__(self):
        super().__init__()
        self.subdivision_steps = 2
        self.steps_seen = []

    def forward(self, images):
        self.steps_seen.append(self.subdivision_steps)
        return images * 20.0


def _one_hot(classes):
    return np.eye(NUM_CLASSES, dtype=np.float32)[classes].transpose(2, 0, 1)


class ToyDataset:
    """Two 8x12 images whose one-hot channels encode the prediction, in 4-px blocks.

    Image 0 predicts 0 | 1 | 2 in column blocks; its label agrees except the top half of the
    middle block (labelled 0) and the top of the right block (ignore).
    -> (0,0) 32, (0,1) 16, (1,1) 16, (2,2) 16.
    Image 1 predicts 2 everywhere; the left block is labelled 1 -> (1,2) 32, (2,2) 64.
    """

    def __init__(self):
        predicted = np.zeros((8, 12), dtype=np.int64)
        predicted[:, 4:8], predicted[:, 8:] = 1, 2
        label = predicted.copy()
        label[:4, 4:8], label[:4, 8:] = 0, 255
        second_label = np.full((8, 12), 2, dtype=np.int64)
        second_label[:, :4] = 1
        self.items = [(_one_hot(predicted), label), (_one_hot(np.full((8, 12), 2)), second_label)]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


MODES = {
    "whole": InferenceOptions(),
    "flip": InferenceOptions(flip=True),
    "scales": InferenceOptions(scales=(0.5, 1.0, 1.5)),
    "slide": InferenceOptions(mode="slide", crop=(8, 8), stride=(4, 4)),
    "combined": InferenceOptions(
        mode="slide", crop=(8, 8), stride=(4, 4), scales=(0.5, 1.0), flip=True
    ),
}


@pytest.mark.parametrize("options", MODES.values(), ids=MODES.keys())
def test_every_mode_matches_hand_computed_confusion_matrix(options):
    results = evaluate_dataset(
        OneHotModel(),
        ToyDataset(),
        options,
        num_classes=NUM_CLASSES,
        class_names=["a", "b", "c"],
        progress=False,
    )
    assert list(results["per_class_IoU"].values()) == pytest.approx(EXPECTED_IOU)
    assert results["mIoU"] == pytest.approx(np.mean(EXPECTED_IOU))
    assert results["pixel_accuracy"] == pytest.approx(128 / 176)
    assert results["num_images"] == 2
    recorded = options.describe()
    assert {key: results["config"][key] for key in recorded} == recorded


def test_data_parallel_ranks_split_without_padding_and_sum(monkeypatch):
    dataset = ToyDataset()
    dataset.items.append(dataset.items[0])  # three images over two ranks
    reduced = []
    monkeypatch.setattr(
        SegmentationMetrics, "all_reduce", lambda self: reduced.append(self.overall.counts.copy())
    )
    for rank in (0, 1):
        monkeypatch.setattr(evaluate_module, "_rank_and_world", lambda rank=rank: (rank, 2))
        evaluate_dataset(OneHotModel(), dataset, num_classes=NUM_CLASSES, progress=False)
    first_image = np.array([[32, 16, 0], [0, 16, 0], [0, 0, 16]])
    np.testing.assert_array_equal(
        reduced[0], EXPECTED_COUNTS - np.array([[0, 0, 0], [0, 0, 32], [0, 0, 64]]) + first_image
    )
    np.testing.assert_array_equal(reduced[0] + reduced[1], EXPECTED_COUNTS + first_image)


def test_with_and_without_subdivision_runs_both_and_restores():
    model = OneHotModel()
    results = evaluate_with_and_without_subdivision(
        model, ToyDataset(), num_classes=NUM_CLASSES, progress=False
    )
    assert list(results) == ["subdivision_steps=2", "subdivision_steps=0"]
    assert model.steps_seen == [2, 2, 0, 0]
    assert model.subdivision_steps == 2
    assert results["subdivision_steps=0"]["config"]["subdivision_steps"] == 0
    table = format_comparison_table(results)
    assert "subdivision_steps=2" in table.splitlines()[1] and "mIoU" in table


def test_table_and_json(tmp_path):
    results = evaluate_dataset(
        OneHotModel(),
        ToyDataset(),
        num_classes=NUM_CLASSES,
        class_names=["a", "b", "c"],
        progress=False,
    )
    table = format_results_table(results)
    assert "25.00" in next(line for line in table.splitlines() if line.startswith("b "))
    path = write_results_json(results, str(tmp_path / "out" / "results.json"))
    with open(path) as handle:
        assert json.load(handle)["per_class_IoU"]["c"] == pytest.approx(80 / 112)


def test_unlabelled_dataset_is_a_clear_error():
    class Unlabelled(ToyDataset):
        def __getitem__(self, index):
            return (self.items[index][0],)

    with pytest.raises(ValueError, match="labelled"):
        evaluate_dataset(OneHotModel(), Unlabelled(), num_classes=NUM_CLASSES, progress=False)


def test_pointrend_on_synthetic_cityscapes_matches_an_independent_count(tmp_path):
    from pointrend.data import (
        CITYSCAPES_CLASSES,
        CityscapesDataset,
        build_val_transforms,
        generate_synthetic_cityscapes,
    )
    from pointrend.inference.metrics import boundary_band
    from pointrend.inference.modes import InferenceOptions, predict_labels
    from pointrend.models import build_model

    generate_synthetic_cityscapes(str(tmp_path), num_train=0, num_val=2, size=(64, 128))
    dataset = CityscapesDataset(str(tmp_path), split="val", transforms=build_val_transforms())
    paddle.seed(0)
    model = build_model(
        backbone_depth=18,
        backbone_base_channels=16,
        fpn_channels=32,
        head_channels=16,
        point_head_fc_channels=32,
        subdivision_num_points=256,
    ).eval()
    options = InferenceOptions(mode="slide", crop=(64, 64), stride=(32, 32), flip=True)
    results = evaluate_dataset(model, dataset, options, progress=False)
    assert list(results["per_class_IoU"]) == list(CITYSCAPES_CLASSES)
    assert results["config"]["subdivision_steps"] == 2 and results["config"]["crop"] == [64, 64]

    # The same numbers from scratch: arg-max maps, then plain numpy counting.
    intersection, union, correct, total = np.zeros(19), np.zeros(19), 0, 0
    band_intersection, band_union = np.zeros(19), np.zeros(19)
    for image, label in dataset:
        prediction = predict_labels(model, paddle.to_tensor(image[None]), options).numpy()[0]
        valid = label != 255
        band = valid & boundary_band(label, 3)
        for cls in range(19):
            predicted, labelled = prediction == cls, label == cls
            intersection[cls] += (predicted & labelled & valid).sum()
            union[cls] += ((predicted | labelled) & valid).sum()
            band_intersection[cls] += (predicted & labelled & band).sum()
            band_union[cls] += ((predicted | labelled) & band).sum()
        correct += (prediction == label)[valid].sum()
        total += valid.sum()
    assert results["mIoU"] == pytest.approx(np.mean(intersection[union > 0] / union[union > 0]))
    assert results["boundary_mIoU"] == pytest.approx(
        np.mean(band_intersection[band_union > 0] / band_union[band_union > 0])
    )
    assert results["pixel_accuracy"] == pytest.approx(correct / total)
