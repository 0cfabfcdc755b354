"""Converted checkpoints end to end: `python -m pointrend.convert` writes a checkpoint directory
that `pointrend.load_checkpoint` and the recipes' eval / predict / export take, with the model
settings and image normalisation of its source.

The narrow detectron2 reference (a folder beside the repository; skipped when absent) checks the
numbers; detectron2-format files written here (random weights, detectron2's names) check the
commands on other architectures, a 5-class model included.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import paddle
import pytest
from test_detectron2_checkpoint import torch_state
from test_trainer import make_trainer, tiny_recipe
from torch_zip_writer import write_torch_zip

import pointrend
from pointrend.app.cli import RecipeCommands, run_cli
from pointrend.app.convert import main as convert_main
from pointrend.config.recipe import IMAGENET_MEAN, IMAGENET_STD, Recipe
from pointrend.convert.detectron2 import PIXEL_MEAN, PIXEL_STD, detectron2_name
from pointrend.models import build_model
from pointrend.train.checkpoint import INFO_FILE, MODEL_FILE, CheckpointError
from pointrend.train.converted_checkpoint import NotResumableError, check_output_directory
from pointrend.utils.paddle_files import load_pdparams
from recipes.semfpn_pointrend_cityscapes import RECIPE as PAPER_RECIPE

# The paper recipe with ImageNet's RGB normalisation instead of detectron2's.
IMAGENET_RECIPE = replace(
    PAPER_RECIPE,
    data=replace(
        PAPER_RECIPE.data, mean=IMAGENET_MEAN, std=IMAGENET_STD, to_rgb=True, max_pixel_value=255.0
    ),
)

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
NARROW = REFERENCE / "detectron2_pointrend_narrow"
# A small detectron2-style PointRend: what the synthetic files hold.
SMALL = {
    "backbone_depth": 18,
    "backbone_base_channels": 8,
    "norm": "frozen_bn",
    "fpn_channels": 16,
    "head_channels": 8,
    "point_head_fc_channels": 16,
}


def convert(source: str, path: Path, out: Path, capsys) -> str:
    convert_main([source, str(path), "--out", str(out)])
    return capsys.readouterr().out


def detectron2_weights(num_classes: int, seed: int) -> dict[str, np.ndarray]:
    """A random SMALL model's tensors under detectron2's names."""
    random = np.random.default_rng(seed)
    model = build_model(**SMALL, num_classes=num_classes)
    weights = {}
    for name, tensor in model.state_dict().items():
        value = random.normal(0.0, 0.3, tuple(tensor.shape)).astype(np.float32)
        weights[detectron2_name(name)] = (
            np.abs(value) + 0.5 if name.endswith("_variance") else value
        )
    return weights


def write_detectron2_pickle(path: Path, num_classes: int, seed: int) -> None:
    """A detectron2 model-zoo file ({"model": {detectron2 name: array}}) of a random SMALL model."""
    weights = detectron2_weights(num_classes, seed)
    path.write_bytes(pickle.dumps({"model": weights, "__author__": "test"}, protocol=4))


def one_line_error(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        convert_main(argv)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


@pytest.fixture
def data_root(synthetic_cityscapes) -> str:
    return synthetic_cityscapes


@pytest.fixture(scope="module")
def small19(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("small19")
    write_detectron2_pickle(folder / "model_final.pkl", num_classes=19, seed=0)
    convert_main(
        ["detectron2", str(folder / "model_final.pkl"), "--out", str(folder / "converted")]
    )
    return folder / "converted"


def recipe_cli(argv: list[str], recipe: Recipe = PAPER_RECIPE) -> None:
    run_cli(RecipeCommands(recipe), argv=argv)


def test_narrow_reference_converts_and_loads_with_detectron2s_outputs(tmp_path, capsys):
    if not (NARROW / "reference.npz").is_file():
        pytest.skip(f"detectron2 reference outputs not found in {NARROW}")
    printed = convert("detectron2", NARROW / "model_final.pkl", tmp_path / "narrow", capsys)
    assert "312 tensors" in printed and "BGR input" in printed
    info = json.loads((tmp_path / "narrow" / INFO_FILE).read_text())
    assert info["converted_from"]["source"] == "detectron2"
    assert info["recipe"]["model"]["backbone_base_channels"] == 8
    assert len(load_pdparams(tmp_path / "narrow" / MODEL_FILE)) == 312

    reference = np.load(NARROW / "reference.npz")
    network = pointrend.load_checkpoint(tmp_path / "narrow", subdivision_num_points=512)
    assert not network.training
    assert network.normalization.mean == PIXEL_MEAN and network.normalization.std == PIXEL_STD
    assert not network.normalization.to_rgb and network.normalization.max_pixel_value == 1.0
    images = paddle.to_tensor(reference["image"])
    with paddle.no_grad():
        _, coarse = network.extract(images)
        final = network(images).numpy()
    theirs = reference["eval.coarse"]
    assert np.abs(coarse.numpy() - theirs).max() <= 1e-4 * np.abs(theirs).max()
    assert final.shape == reference["eval.final"].shape
    assert (final.argmax(1) == reference["eval.final"].argmax(1)).mean() >= 0.999


def test_load_checkpoint_normalization_is_the_sources(small19):
    network = pointrend.load_checkpoint(small19)
    image = np.random.default_rng(1).integers(0, 256, (32, 64, 3), dtype=np.uint8)
    expected = (image.astype(np.float32) - np.array(PIXEL_MEAN, np.float32)).transpose(2, 0, 1)
    np.testing.assert_allclose(network.normalization(image)[0], expected, rtol=1e-6)
    with paddle.no_grad():
        logits = network(paddle.to_tensor(network.normalization(image)))
    assert logits.shape == [1, 19, 32, 64]


def test_paper_recipe_eval_takes_the_converted_model_settings(small19, data_root, tmp_path, capsys):
    recipe_cli(
        [
            "eval",
            f"--checkpoint={small19}",
            "--device=cpu",
            f"--output_dir={tmp_path}",
            f"--data.root={data_root}",
            "--eval.num_workers=0",
        ]
    )
    out = capsys.readouterr().out
    (note,) = [line for line in out.splitlines() if "using its settings" in line]
    for change in (
        "model.backbone_depth=18 (recipe 101)",
        "model.norm='frozen_bn' (recipe 'bn')",
        "model.fpn_channels=16 (recipe 256)",
    ):
        assert change in note
    assert "data." not in note  # the paper recipe already normalises as detectron2 does
    assert "mIoU" in out and (tmp_path / "eval" / "converted.json").is_file()


def test_predict_takes_the_converted_normalisation_over_the_recipes(
    small19, data_root, tmp_path, capsys
):
    images = Path(data_root) / "leftImg8bit" / "val"
    recipe_cli(
        [
            "predict",
            f"--checkpoint={small19}",
            "--device=cpu",
            f"--input={images}",
            f"--output={tmp_path}",
            "--model.subdivision_steps=1",
        ],
        IMAGENET_RECIPE,
    )
    out = capsys.readouterr().out
    (note,) = [line for line in out.splitlines() if "using its settings" in line]
    assert "data.to_rgb=False (recipe True)" in note and "data.max_pixel_value=1.0" in note
    assert "model.subdivision_steps" not in note and "2 of 2 images predicted" in out
    network = pointrend.load_checkpoint(small19, subdivision_steps=1)
    for image_path in sorted(images.rglob("*.png")):
        (written,) = (tmp_path / "trainid").rglob(image_path.name)
        with paddle.no_grad():
            logits = network(paddle.to_tensor(network.normalization(cv2.imread(str(image_path)))))
        expected = logits.numpy()[0].argmax(0)
        np.testing.assert_array_equal(cv2.imread(str(written), cv2.IMREAD_UNCHANGED), expected)


def test_export_of_a_converted_checkpoint_records_its_normalisation(small19, tmp_path, capsys):
    recipe_cli(
        [
            "export",
            f"--checkpoint={small19}",
            "--device=cpu",
            f"--output={tmp_path / 'exported'}",
            "--model.subdivision_steps=1",
        ]
    )
    preprocess = json.loads((tmp_path / "exported" / "preprocess.json").read_text())
    assert preprocess["mean"] == list(PIXEL_MEAN) and preprocess["to_rgb"] is False
    assert preprocess["subdivision_steps"] == 1


def test_five_class_model_converts_predicts_and_refuses_a_19_class_eval(
    tmp_path, data_root, capsys
):
    write_detectron2_pickle(tmp_path / "five.pkl", num_classes=5, seed=2)
    printed = convert("detectron2", tmp_path / "five.pkl", tmp_path / "five", capsys)
    assert "5 classes" in printed
    network = pointrend.load_checkpoint(tmp_path / "five")
    with paddle.no_grad():
        assert network(paddle.zeros([1, 3, 32, 64])).shape == [1, 5, 32, 64]
    with pytest.raises(SystemExit):
        recipe_cli(
            [
                "eval",
                f"--checkpoint={tmp_path / 'five'}",
                "--device=cpu",
                f"--data.root={data_root}",
                f"--output_dir={tmp_path}",
            ]
        )
    err = capsys.readouterr().err
    assert "predicts 5 classes, the recipe's dataset has 19" in err and err.count("\n") == 1


def test_a_detectron2_trainer_pth_converts_to_the_same_weights_as_its_pkl(tmp_path, capsys):
    weights = detectron2_weights(num_classes=19, seed=4)
    (tmp_path / "model_final.pkl").write_bytes(pickle.dumps({"model": weights}, protocol=2))
    write_torch_zip(
        tmp_path / "model_final.pth", {"model": torch_state(weights, {}), "iteration": 9}
    )
    convert("detectron2", tmp_path / "model_final.pkl", tmp_path / "from_pkl", capsys)
    printed = convert("detectron2", tmp_path / "model_final.pth", tmp_path / "from_pth", capsys)
    assert "model_final.pth" in printed
    from_pkl = load_pdparams(tmp_path / "from_pkl" / MODEL_FILE)
    from_pth = load_pdparams(tmp_path / "from_pth" / MODEL_FILE)
    assert sorted(from_pkl) == sorted(from_pth) and len(from_pth) == len(weights)
    for name, value in from_pkl.items():
        np.testing.assert_array_equal(from_pth[name], value)


@pytest.mark.parametrize(
    "make, argv_source, expected",
    [
        (None, "detectron2", "no such file"),
        (lambda p: p.write_bytes(b"\x80\x04garbage"), "detectron2", "x.pkl"),
        (
            lambda p: p.write_bytes(
                pickle.dumps(
                    {"model": {"roi_heads.box_predictor.weight": np.zeros((2, 2), np.float32)}}
                )
            ),
            "detectron2",
            "object-detection model",
        ),
        (lambda p: p.write_bytes(b"\0"), "caffe", "unknown source 'caffe'; known: detectron2"),
    ],
)
def test_bad_files_are_one_line_errors_and_write_nothing(
    tmp_path, capsys, make, argv_source, expected
):
    path = tmp_path / "x.pkl"
    if make:
        make(path)
    err = one_line_error(capsys, [argv_source, str(path), "--out", str(tmp_path / "out")])
    assert expected in err
    assert not (tmp_path / "out").exists()


def test_an_occupied_output_directory_is_refused_before_converting(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    err = one_line_error(
        capsys, ["detectron2", str(tmp_path / "missing.pkl"), "--out", str(tmp_path / "out")]
    )
    assert "no such file" in err
    write_detectron2_pickle(tmp_path / "m.pkl", num_classes=19, seed=3)
    err = one_line_error(
        capsys, ["detectron2", str(tmp_path / "m.pkl"), "--out", str(tmp_path / "out")]
    )
    assert f"--out {tmp_path / 'out'} exists and is not a converted checkpoint" in err
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"
    with pytest.raises(CheckpointError, match="^/.* exists and is not a converted checkpoint; "):
        check_output_directory(tmp_path / "out")
    err = one_line_error(
        capsys, ["detectron2", str(tmp_path / "m.pkl"), "--out", str(tmp_path / "out/notes.txt")]
    )
    assert f"--out {tmp_path / 'out' / 'notes.txt'} is a file; name a directory to create" in err


def test_training_cannot_resume_from_a_converted_checkpoint(small19, data_root, tmp_path, capsys):
    small = [f"--model.{name}={value}" for name, value in SMALL.items()]
    with pytest.raises(SystemExit):
        recipe_cli(
            [
                "train",
                f"--resume={small19}",
                "--device=cpu",
                f"--data.root={data_root}",
                f"--output_dir={tmp_path}",
                *small,
            ]
        )
    err = capsys.readouterr().err
    assert "holds weights converted from detectron2's model_final.pkl" in err
    assert err.endswith(
        "without a training state to resume: it is for evaluation, prediction and export only; "
        "give it to eval, predict or export with --checkpoint\n"
    )
    assert err.count("\n") == 1


def test_the_trainer_refuses_to_resume_from_a_converted_checkpoint(small19, data_root, tmp_path):
    trainer = make_trainer(tiny_recipe(data_root, str(tmp_path)))
    with pytest.raises(NotResumableError) as refused:
        trainer.fit(resume=small19)
    assert str(refused.value).endswith(
        "without a training state to resume: it is for evaluation, prediction and export only"
    )
