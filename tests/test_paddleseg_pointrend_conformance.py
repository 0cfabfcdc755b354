"""A PaddleSeg PointRend checkpoint, converted, computes what PaddleSeg 2.8 computed with it.

Reference numbers: PaddleSeg's own runs of small random-weight PointRend models (ResNet18_vd and
ResNet50_vd, output stride 8; their real `.pdparams` bytes, inputs, random draws and outputs) from
the reference folder beside the repository (skipped when absent; see its paddleseg/README.md).
"""

from __future__ import annotations

import bz2
from pathlib import Path

import numpy as np
import paddle
import pytest

from pointrend.convert.paddleseg import load_paddleseg_model
from pointrend.models import PointRendLoss, segmentor
from pointrend.ops import sample_labels, sample_points_for_training

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "paddleseg"
CASES = {"r18vd": REFERENCE / "case_pointrend_r18vd", "r50vd": REFERENCE / "case_pointrend_r50vd"}
RELATIVE = 1e-4  # logits and features, relative to the reference's largest magnitude
LOSS_RELATIVE = 1e-5
TOPK_POINTS = 200  # the evaltopk_* outputs: point_subdivision_num_points=200

if not all((case / "outputs.npz").is_file() for case in CASES.values()):
    pytest.skip(f"PaddleSeg reference outputs not found in {REFERENCE}", allow_module_level=True)


def load_case(name: str, tmp_path_factory) -> dict:
    """{"name", "dir", "weights" (a real .pdparams file), "outputs"} of one reference case."""
    folder = CASES[name]
    weights = tmp_path_factory.mktemp(name) / "model.pdparams"
    weights.write_bytes(bz2.decompress((folder / "weights.pdparams.bz2").read_bytes()))
    with np.load(folder / "outputs.npz") as outputs:
        return {"name": name, "dir": folder, "weights": weights, "outputs": dict(outputs)}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request, tmp_path_factory) -> dict:
    return load_case(request.param, tmp_path_factory)


@pytest.fixture(scope="module")
def r18(tmp_path_factory) -> dict:
    """The case with the most outputs recorded (neck, odd input size, few subdivision points)."""
    return load_case("r18vd", tmp_path_factory)


def assert_close(ours: np.ndarray, theirs: np.ndarray, relative: float, what: str) -> None:
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != {theirs.shape}"
    error = float(np.abs(ours.astype(np.float64) - theirs).max())
    scale = float(np.abs(theirs).max())
    print(f"{what}: max abs error {error:.3g}, relative {error / scale:.3g}")
    assert error <= relative * scale, f"{what}: max abs error {error:.3g} (scale {scale:.3g})"


def run_eval(case: dict, input_name: str, **build_options):
    model, _ = load_paddleseg_model(case["weights"], **build_options)
    images = paddle.to_tensor(np.load(case["dir"] / f"{input_name}.npy"))
    with paddle.no_grad():
        features, coarse = model.extract(images)
        logits, trace = model.inference_with_trace(images)
    return features, coarse, logits, trace


def check_eval(prefix: str, outputs: dict, coarse, logits, trace) -> None:
    assert_close(coarse.numpy(), outputs[f"{prefix}_coarse"], RELATIVE, f"{prefix} coarse logits")
    assert_close(logits.numpy(), outputs[f"{prefix}_logits"], RELATIVE, f"{prefix} logits")
    assert len(trace) == 2
    for step, traced in enumerate(trace):
        indices = traced["indices"].numpy()
        expected = outputs[f"{prefix}_step{step}_point_idx"]
        assert indices.shape == expected.shape
        for ours, theirs, coords, their_coords in zip(
            indices,
            expected,
            traced["coords"].numpy(),
            outputs[f"{prefix}_step{step}_points"],
            strict=False,
        ):
            # Exact ties in uncertainty may come in another order: compare the cells as sets,
            # then each cell's coordinates, which PaddleSeg computes in float32 steps.
            assert set(ours.tolist()) == set(theirs.tolist()), f"{prefix} step {step} cells"
            np.testing.assert_array_equal(
                coords[np.argsort(ours)], their_coords[np.argsort(theirs)]
            )


def test_eval_logits_coarse_logits_and_refined_cells_match_paddleseg(case):
    """128x256 input: both subdivision steps refine every cell (8192 <= 8196 points)."""
    _, coarse, logits, trace = run_eval(case, "input")
    check_eval("eval", case["outputs"], coarse, logits, trace)


def test_neck_outputs_come_coarsest_first_as_paddleseg_returns_them(r18):
    features, _, _, _ = run_eval(r18, "input")
    for level, feature in enumerate(features):
        assert_close(
            feature.numpy(), r18["outputs"][f"eval_neck{level}"], RELATIVE, f"neck {level}"
        )


def test_odd_input_size_matches_paddleseg_without_padding(r18):
    """132x260: odd stride-8 maps (17x33, exclusive ceil-mode pooling at the border) and a second
    step whose 68x132 cells exceed the 8196 points, so the most uncertain are selected."""
    _, coarse, logits, trace = run_eval(r18, "input2")
    check_eval("eval2", r18["outputs"], coarse, logits, trace)


def test_subdivision_with_few_points_selects_paddlesegs_cells_in_a_batch(r18):
    _, coarse, logits, trace = run_eval(r18, "input_train", subdivision_num_points=TOPK_POINTS)
    check_eval("evaltopk", r18["outputs"], coarse, logits, trace)


def replay(draws: list[np.ndarray]):
    """A stand-in for paddle.rand returning the recorded draws in turn."""

    def replayed_rand(shape, dtype=None, name=None):
        draw = draws.pop(0)
        assert list(shape) == list(draw.shape)
        return paddle.to_tensor(draw)

    return replayed_rand


def test_training_points_are_paddlesegs_given_its_draws_and_coarse_logits(case, monkeypatch):
    """The sampler picks the same 1536 most uncertain of the 6144 candidates (a set: exact
    float32 ties come in another order) and appends the 512 uniform points."""
    outputs = case["outputs"]
    draws = [outputs["train_rand0"], outputs["train_rand1"]]
    monkeypatch.setattr(paddle, "rand", replay(draws))
    coords = sample_points_for_training(paddle.to_tensor(outputs["train_coarse"]), 2048).numpy()
    assert not draws
    for ours, theirs in zip(coords, outputs["train_points"], strict=True):
        assert set(map(tuple, ours[:1536].tolist())) == set(map(tuple, theirs[:1536].tolist()))
        np.testing.assert_array_equal(ours[1536:], theirs[1536:])


def test_training_outputs_and_losses_match_paddleseg_at_its_points(case, monkeypatch):
    """Training mode (BatchNorm on batch statistics) at PaddleSeg's points: our coarse logits
    differ from PaddleSeg's by ~1e-6 of their scale (float rounding), which can swap a candidate
    at the cut of the importance sampling when two are that close; so the points are given."""
    outputs = case["outputs"]
    points = paddle.to_tensor(outputs["train_points"])
    monkeypatch.setattr(segmentor, "sample_points_for_training", lambda *args, **kwargs: points)
    model, _ = load_paddleseg_model(case["weights"])
    model.train()
    coarse, point_logits, coords = model(paddle.to_tensor(np.load(case["dir"] / "input_train.npy")))
    assert_close(coarse.numpy(), outputs["train_coarse"], RELATIVE, "train coarse logits")
    assert_close(point_logits.numpy(), outputs["train_point_logits"], RELATIVE, "point logits")

    labels = paddle.to_tensor(np.load(case["dir"] / "label_train.npy"))
    targets = sample_labels(labels, coords).numpy()
    np.testing.assert_array_equal(targets, outputs["train_point_labels"])
    loss_coarse, loss_points = PointRendLoss()(coarse, point_logits, coords, labels)
    assert_close(np.array(float(loss_coarse)), outputs["loss_ce"], LOSS_RELATIVE, "coarse loss")
    assert_close(
        np.array(float(loss_points)), outputs["loss_point_ce"], LOSS_RELATIVE, "point loss"
    )
