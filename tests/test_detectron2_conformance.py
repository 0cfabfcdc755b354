"""A detectron2 PointRend checkpoint, converted, computes what detectron2 computed with it.

Reference numbers: detectron2's own run of a narrow PointRend semantic-segmentation model (its
model-zoo `.pkl`, input, random draws and outputs) and the tensor names and shapes of the
published full-size R-50 / R-101 Cityscapes models, from the reference folder beside the
repository (skipped when absent).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import paddle
import pytest

from pointrend.convert.detectron2 import (
    PIXEL_MEAN,
    infer_architecture,
    load_detectron2_model,
    map_detectron2_names,
    read_detectron2_checkpoint,
)
from pointrend.models import PointRendLoss, build_model
from pointrend.ops import sample_labels

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
NARROW = REFERENCE / "detectron2_pointrend_narrow"
FULL_SIZE_NAMES = REFERENCE / "detectron2_pointrend_cityscapes_names.json"
# Not weights: the narrow run's sampling settings (meta.json "cfg" POINT_HEAD).
NARROW_SAMPLING = {
    "train_num_points": 256,
    "oversample_ratio": 3,
    "importance_ratio": 0.75,
    "subdivision_steps": 2,
    "subdivision_num_points": 512,
}


@pytest.fixture(scope="module")
def reference():
    if not (NARROW / "reference.npz").is_file():
        pytest.skip(
            f"detectron2 reference outputs not found in {NARROW} (a folder beside the repository)"
        )
    return dict(np.load(NARROW / "reference.npz"))


@pytest.fixture(scope="module")
def narrow_model(reference):
    model, options = load_detectron2_model(NARROW / "model_final.pkl", **NARROW_SAMPLING)
    return model


def assert_close(ours: np.ndarray, theirs: np.ndarray, relative: float) -> None:
    """Max abs difference within `relative` of the reference's largest magnitude."""
    scale = float(np.abs(theirs).max())
    error = float(np.abs(ours - theirs).max())
    print(f"max abs error {error:.3g}, relative {error / scale:.3g}")
    assert error <= relative * scale


def test_narrow_checkpoint_architecture_is_read_from_its_tensors(reference):
    checkpoint = read_detectron2_checkpoint(NARROW / "model_final.pkl")
    cfg = json.loads((NARROW / "meta.json").read_text())["cfg"]
    assert len(checkpoint.weights) == 312
    assert infer_architecture(checkpoint.shapes, checkpoint.source) == {
        "backbone_depth": cfg["RESNETS"]["DEPTH"],
        "backbone_stem": "classic",
        "norm": "frozen_bn",
        "output_stride": 32,
        "backbone_base_channels": cfg["RESNETS"]["WIDTH_PER_GROUP"],
        "fpn_channels": cfg["FPN"]["OUT_CHANNELS"],
        "head_channels": cfg["SEM_SEG_HEAD"]["CONVS_DIM"],
        "head_norm": "gn",
        "num_classes": cfg["SEM_SEG_HEAD"]["NUM_CLASSES"],
        "point_head": True,
        "point_head_fc_channels": cfg["POINT_HEAD"]["FC_DIM"],
        "point_head_num_fc": cfg["POINT_HEAD"]["NUM_FC"],
        "coarse_pred_each_layer": cfg["POINT_HEAD"]["COARSE_PRED_EACH_LAYER"],
    }


def test_eval_coarse_logits_subdivision_and_refined_cells_match_detectron2(reference, narrow_model):
    images = paddle.to_tensor(reference["image"])
    with paddle.no_grad():
        _, coarse = narrow_model.extract(images)
        assert_close(coarse.numpy(), reference["eval.coarse"], 1e-4)
        narrow_model.subdivision_steps = 0
        assert_close(narrow_model(images).numpy(), reference["eval.nosub"], 1e-4)
        narrow_model.subdivision_steps = 2
        final, trace = narrow_model.inference_with_trace(images)
    final = final.numpy()
    assert_close(final, reference["eval.final"], 1e-4)
    agreement = float((final.argmax(1) == reference["eval.final"].argmax(1)).mean())
    print(f"final argmax agreement {agreement:.6f}")
    assert agreement >= 0.999
    for step, traced in enumerate(trace):
        for ours, theirs in zip(
            traced["indices"].numpy(), reference[f"eval.step{step}.indices"], strict=True
        ):
            assert set(ours.tolist()) == set(theirs.tolist())


def test_training_points_point_logits_and_losses_match_detectron2_with_its_draws(
    reference, narrow_model, monkeypatch
):
    """detectron2's two uniform draws replace paddle.rand in the training-point sampler."""
    draws = [reference["train.draw0"], reference["train.draw1"]]

    def replayed_rand(shape, dtype=None, name=None):
        draw = draws.pop(0)
        assert list(shape) == list(draw.shape)
        return paddle.to_tensor(draw)

    monkeypatch.setattr(paddle, "rand", replayed_rand)
    narrow_model.train()
    try:
        coarse, point_logits, coords = narrow_model(paddle.to_tensor(reference["image"]))
    finally:
        narrow_model.eval()
    assert not draws
    labels = paddle.to_tensor(reference["label"])
    loss_coarse, loss_points = PointRendLoss()(coarse, point_logits, coords, labels)
    np.testing.assert_allclose(float(loss_coarse), reference["train.loss_sem_seg"], rtol=1e-5)
    np.testing.assert_allclose(float(loss_points), reference["train.loss_sem_seg_point"], rtol=1e-5)
    targets = sample_labels(labels, coords, 255).numpy()
    coords, point_logits = coords.numpy(), point_logits.numpy()
    # The same points, but near-ties in uncertainty (1e-5 apart, below the 1e-4 difference of the
    # coarse logits) may order them differently: pair each reference point with ours.
    order = [
        match_points(theirs, ours)
        for theirs, ours in zip(reference["train.coords"], coords, strict=True)
    ]
    batch = np.arange(len(order))[:, None]
    assert_close(coords[batch, order], reference["train.coords"], 1e-5)
    assert_close(
        point_logits.transpose(0, 2, 1)[batch, order],
        reference["train.point_logits"].transpose(0, 2, 1),
        1e-5,
    )
    np.testing.assert_array_equal(targets[batch, order], reference["train.point_targets"])


def match_points(theirs: np.ndarray, ours: np.ndarray) -> np.ndarray:
    """Indices into ours [P, 2] of each of theirs [P, 2], each used once."""
    distance = np.abs(theirs[:, None, :] - ours[None, :, :]).max(axis=-1)
    order = distance.argmin(axis=1)
    assert len(set(order.tolist())) == len(order) and distance.min(axis=1).max() <= 1e-6
    return order


@pytest.mark.parametrize("variant, count", [("R50", 312), ("R101", 567)])
def test_published_cityscapes_models_map_every_tensor_onto_the_inferred_model(variant, count):
    if not FULL_SIZE_NAMES.is_file():
        pytest.skip(f"names of the published detectron2 models not found: {FULL_SIZE_NAMES}")
    published = json.loads(FULL_SIZE_NAMES.read_text())[variant]
    assert (
        tuple(published["input"]["pixel_mean"]) == PIXEL_MEAN
        and published["input"]["format"] == "BGR"
    )
    theirs = {name: shape for name, shape, _dtype in published["tensors"]}
    assert len(theirs) == count
    architecture = infer_architecture(theirs, variant)
    assert (
        architecture["backbone_depth"] == int(variant[1:]) and architecture["fpn_channels"] == 256
    )
    model = build_model(**architecture)
    ours = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    pairs = map_detectron2_names(ours, theirs, variant)
    assert len(ours) == count and sorted(pairs.values()) == sorted(theirs)
