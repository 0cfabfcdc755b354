"""`python -m pointrend.convert paddleseg FILE --out DIR` end to end: PaddleSeg's own PointRend
weights (the r18vd reference case, a real `.pdparams`; skipped when the reference folder beside
the repository is absent) become a checkpoint directory whose network reproduces PaddleSeg's
logits and which the recipes' eval and predict commands run; STDC-Seg's (the stdc1 case) too."""

from __future__ import annotations

import bz2
import json
from pathlib import Path

import cv2
import numpy as np
import paddle
import pytest

import pointrend
from pointrend.app.cli import RecipeCommands, run_cli
from pointrend.app.convert import main as convert_main
from pointrend.convert.paddleseg import PIXEL_MEAN, PIXEL_STD
from pointrend.data import generate_synthetic_cityscapes
from pointrend.train.checkpoint import INFO_FILE
from recipes.semfpn_pointrend_cityscapes import RECIPE as PAPER_RECIPE

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "paddleseg"
POINTREND_CASE = REFERENCE / "case_pointrend_r18vd"
STDC_CASE = REFERENCE / "case_stdc1_seg"

if not (POINTREND_CASE / "outputs.npz").is_file():
    pytest.skip(f"PaddleSeg reference outputs not found in {REFERENCE}", allow_module_level=True)


def decompressed(case: Path, folder: Path) -> Path:
    path = folder / "model.pdparams"
    path.write_bytes(bz2.decompress((case / "weights.pdparams.bz2").read_bytes()))
    return path


def test_converted_directory_reproduces_paddlesegs_logits(tmp_path, capsys):
    out = tmp_path / "converted"
    convert_main(["paddleseg", str(decompressed(POINTREND_CASE, tmp_path)), "--out", str(out)])
    printed = capsys.readouterr().out
    assert "178 tensors" in printed and "RGB input" in printed
    assert "PaddleSeg layout, output stride 8" in printed
    info = json.loads((out / INFO_FILE).read_text())
    assert info["converted_from"]["source"] == "paddleseg"
    model = info["recipe"]["model"]
    assert (model["fpn_layout"], model["output_stride"], model["subdivision_num_points"]) == (
        "paddleseg",
        8,
        8196,
    )

    network = pointrend.load_checkpoint(out)
    normalization = network.normalization
    assert normalization.mean == PIXEL_MEAN and normalization.std == PIXEL_STD
    assert normalization.to_rgb and normalization.max_pixel_value == 1.0
    with paddle.no_grad():
        logits = network(paddle.to_tensor(np.load(POINTREND_CASE / "input.npy"))).numpy()
    reference = np.load(POINTREND_CASE / "outputs.npz")["eval_logits"]
    assert np.abs(logits - reference).max() <= 1e-4 * np.abs(reference).max()


def test_recipe_eval_and_predict_run_the_converted_checkpoint(tmp_path, capsys):
    out = tmp_path / "converted"
    convert_main(["paddleseg", str(decompressed(POINTREND_CASE, tmp_path)), "--out", str(out)])
    root = tmp_path / "data"
    generate_synthetic_cityscapes(str(root), num_train=1, num_val=2, size=(66, 130))
    common = [f"--checkpoint={out}", "--device=cpu", f"--output_dir={tmp_path / 'run'}"]
    commands = RecipeCommands(PAPER_RECIPE)
    run_cli(commands, argv=["eval", *common, f"--data.root={root}", "--eval.num_workers=0"])
    printed = capsys.readouterr().out
    assert "model.fpn_layout='paddleseg'" in printed and "mIoU" in printed

    images = root / "leftImg8bit" / "val"
    predicted = tmp_path / "pred"
    run_cli(commands, argv=["predict", *common, f"--input={images}", f"--output={predicted}"])
    assert "2 of 2 images predicted" in capsys.readouterr().out
    network = pointrend.load_checkpoint(out)
    for image_path in sorted(images.rglob("*.png")):
        (written,) = (predicted / "trainid").rglob(image_path.name)
        image = cv2.imread(str(image_path))
        with paddle.no_grad():
            logits = network(paddle.to_tensor(network.normalization(image)))
        assert logits.shape[2:] == list(image.shape[:2])  # 66 x 130: no padding, odd stride-8 maps
        expected = logits.numpy()[0].argmax(0)
        np.testing.assert_array_equal(cv2.imread(str(written), cv2.IMREAD_UNCHANGED), expected)


def test_an_stdc_seg_checkpoint_converts_and_reproduces_paddlesegs_logits(tmp_path, capsys):
    if not (STDC_CASE / "weights.pdparams.bz2").is_file():
        pytest.skip(f"PaddleSeg STDC-Seg reference case not found: {STDC_CASE}")
    out = tmp_path / "stdc1"
    convert_main(["paddleseg", str(decompressed(STDC_CASE, tmp_path)), "--out", str(out)])
    assert "STDC1-Seg, 19 classes; RGB input" in capsys.readouterr().out
    model = json.loads((out / INFO_FILE).read_text())["recipe"]["model"]
    assert (model["arch"], model["stdc_variant"], model["point_head"]) == ("stdc", "stdc1", False)
    network = pointrend.load_checkpoint(out)
    assert network.normalization.mean == PIXEL_MEAN and network.normalization.to_rgb
    with paddle.no_grad():
        logits = network(paddle.to_tensor(np.load(STDC_CASE / "input.npy"))).numpy()
    reference = np.load(STDC_CASE / "outputs.npz")["eval_logits"]
    assert np.abs(logits - reference).max() <= 1e-4 * np.abs(reference).max()
