"""Reading PaddleSeg checkpoints: the architecture from the tensors, every tensor accounted for,
clear one-line errors for files of another kind.

The full-size published configurations' names and shapes, and the STDC-Seg conformance case, come
from the reference folder beside the repository (those tests skip when it is absent); the rest
writes its own small checkpoints in PaddleSeg's names.
"""

from __future__ import annotations

import bz2
import json
import pickle
from pathlib import Path

import numpy as np
import paddle
import pytest

from pointrend.convert.paddleseg import (
    PIXEL_MEAN,
    PIXEL_STD,
    infer_pointrend_architecture,
    infer_stdc_architecture,
    load_paddleseg_model,
    map_paddleseg_names,
    never_run_pointrend_names,
    paddleseg_pointrend_name,
    paddleseg_state_dict,
    read_paddleseg_checkpoint,
)
from pointrend.models import PADDLESEG_LAYOUT, build_model, build_stdc_seg

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "paddleseg"
NARROW = {"fpn_channels": 32, "head_channels": 16, "point_head_fc_channels": 24}


def published(folder: str) -> dict:
    path = REFERENCE / folder / "names_shapes.json"
    if not path.is_file():
        pytest.skip(f"names of the published PaddleSeg models not found: {path}")
    return json.loads(path.read_text())


def paddleseg_checkpoint(model, path: Path, extra: dict | None = None) -> Path:
    """Save `model` (PaddleSeg's PointRend layout) as PaddleSeg would: its names, plus the neck's
    never-run top-level output conv."""
    state = {
        paddleseg_pointrend_name(name): value.numpy() for name, value in model.state_dict().items()
    }
    channels = model.neck.out_channels
    top = len(model.neck.lateral_convs) - 1
    state[f"neck.fpn_out.{top}.0._conv.weight"] = np.zeros([channels, channels, 3, 3], "float32")
    for tensor in ("weight", "bias", "_mean", "_variance"):
        state[f"neck.fpn_out.{top}.0._batch_norm.{tensor}"] = np.ones([channels], "float32")
    state.update(extra or {})
    paddle.save(state, str(path))
    return path


@pytest.mark.parametrize(
    "folder, depth",
    [("pointrend_resnet50_vd_os8_cityscapes", 50), ("pointrend_resnet101_vd_os8_cityscapes", 101)],
)
def test_published_pointrend_models_map_every_tensor(folder, depth):
    names = published(folder)
    theirs = {name: shape for name, shape, *_ in names["keys"]}
    architecture = infer_pointrend_architecture(theirs, folder)
    assert architecture == {
        **PADDLESEG_LAYOUT,
        "backbone_depth": depth,
        "norm": "bn",
        "fpn_channels": 256,
        "head_channels": 128,
        "num_classes": 19,
        "point_head": True,
        "point_head_fc_channels": 256,
        "point_head_num_fc": 3,
        "coarse_pred_each_layer": True,
    }
    model = build_model(**architecture)
    ours = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    never_run = never_run_pointrend_names(theirs)
    pairs = map_paddleseg_names(ours, theirs, paddleseg_pointrend_name, never_run, folder)
    assert len(theirs) == names["num_keys"]
    assert sorted([*pairs.values(), *never_run]) == sorted(theirs)
    # The tensors left without a counterpart are exactly those of the layers PaddleSeg never runs.
    unused_layers = sorted({name.rsplit(".", 1)[0] for name in never_run})
    assert unused_layers == sorted(names["layers_unused_in_eval"])
    sizes = {name: int(np.prod(shape)) for name, shape in theirs.items()}
    assert (
        sum(sizes[name] for name in pairs.values()) + sum(sizes[name] for name in never_run)
        == (names["total_params"])
    )


@pytest.mark.parametrize(
    "folder, variant", [("stdc1_seg_cityscapes", "stdc1"), ("stdc2_seg_cityscapes", "stdc2")]
)
def test_published_stdc_models_map_every_tensor_to_itself(folder, variant):
    theirs = {name: shape for name, shape, *_ in published(folder)["keys"]}
    assert infer_stdc_architecture(theirs, folder) == {"variant": variant, "num_classes": 19}
    model = build_stdc_seg(variant)
    ours = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    pairs = map_paddleseg_names(ours, theirs, lambda name: name, source=folder)
    assert sorted(pairs.values()) == sorted(theirs)


@pytest.mark.parametrize("depth, num_classes", [(18, 5), (50, 19)])
def test_narrow_checkpoint_converts_with_its_architecture_and_every_value(
    tmp_path, depth, num_classes
):
    paddle.seed(depth)
    source = build_model(
        backbone_depth=depth, num_classes=num_classes, **NARROW, **PADDLESEG_LAYOUT
    )
    path = paddleseg_checkpoint(source, tmp_path / "model.pdparams")
    model, options = load_paddleseg_model(path)
    assert options == {
        **PADDLESEG_LAYOUT,
        **NARROW,
        "backbone_depth": depth,
        "norm": "bn",
        "num_classes": num_classes,
        "point_head": True,
        "point_head_num_fc": 3,
    }
    assert not model.training
    for name, value in source.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[name].numpy(), value.numpy(), err_msg=name)
    source.eval()
    images = paddle.rand([1, 3, 40, 56])
    np.testing.assert_array_equal(model(images).numpy(), source(images).numpy())


def test_build_options_override_what_the_tensors_cannot_tell(tmp_path):
    source = build_model(backbone_depth=18, **NARROW, **PADDLESEG_LAYOUT)
    path = paddleseg_checkpoint(source, tmp_path / "model.pdparams")
    model, options = load_paddleseg_model(path, output_stride=16, subdivision_num_points=100)
    assert options["output_stride"] == 16 and model.subdivision_num_points == 100
    assert model.backbone.out_strides == [4, 8, 16, 16]


def test_paddleseg_normalisation_is_its_default_normalize_on_0_255_rgb():
    # PaddleSeg's Normalize(): (x / 255 - 0.5) / 0.5 == (x - 127.5) / 127.5.
    pixels = np.array([0.0, 63.0, 255.0])
    np.testing.assert_allclose((pixels - PIXEL_MEAN[0]) / PIXEL_STD[0], (pixels / 255 - 0.5) / 0.5)


def test_stdc_checkpoint_converts_and_reproduces_paddlesegs_logits(tmp_path):
    case = REFERENCE / "case_stdc1_seg"
    if not (case / "outputs.npz").is_file():
        pytest.skip(f"PaddleSeg STDC-Seg reference case not found: {case}")
    path = tmp_path / "model.pdparams"
    path.write_bytes(bz2.decompress((case / "weights.pdparams.bz2").read_bytes()))
    model, options = load_paddleseg_model(path)
    assert options == {"variant": "stdc1", "num_classes": 19} and not model.training
    with paddle.no_grad():
        logits = model(paddle.to_tensor(np.load(case / "input.npy"))).numpy()
    reference = np.load(case / "outputs.npz")["eval_logits"]
    error, scale = float(np.abs(logits - reference).max()), float(np.abs(reference).max())
    print(f"STDC1-Seg eval logits: max abs error {error:.3g}, relative {error / scale:.3g}")
    assert error <= 1e-4 * scale


def one_line_error(path: Path) -> str:
    with pytest.raises(ValueError) as error:
        load_paddleseg_model(path)
    message = str(error.value)
    assert "\n" not in message and str(path) in message
    return message


@pytest.fixture
def r18_checkpoint(tmp_path) -> Path:
    return paddleseg_checkpoint(
        build_model(backbone_depth=18, **NARROW, **PADDLESEG_LAYOUT), tmp_path / "r18.pdparams"
    )


def test_missing_and_left_over_tensors_are_named(tmp_path, r18_checkpoint):
    state = paddle.load(str(r18_checkpoint), return_numpy=True)
    del state["pointhead.fcs.1._conv.bias"]
    state["fpnhead.extra.weight"] = np.zeros([2], "float32")
    paddle.save(state, str(tmp_path / "edited.pdparams"))
    message = one_line_error(tmp_path / "edited.pdparams")
    assert "point_head.fcs.1.bias" in message and "fpnhead.extra.weight" in message


def test_a_different_shape_is_named(tmp_path, r18_checkpoint):
    state = paddle.load(str(r18_checkpoint), return_numpy=True)
    state["backbone.bb_2_1.conv0._conv.weight"] = np.zeros([256, 256, 1, 1], "float32")
    paddle.save(state, str(tmp_path / "edited.pdparams"))
    assert "backbone.bb_2_1.conv0._conv.weight" in one_line_error(tmp_path / "edited.pdparams")


def test_an_unsupported_depth_is_named(tmp_path, r18_checkpoint):
    state = paddle.load(str(r18_checkpoint), return_numpy=True)
    for block in range(2, 23):
        state[f"backbone.bb_2_{block}.conv0._conv.weight"] = np.zeros([1], "float32")
    paddle.save(state, str(tmp_path / "deep.pdparams"))
    assert "unknown ResNet_vd" in one_line_error(tmp_path / "deep.pdparams")


def test_a_checkpoint_for_another_network_says_what_each_is(r18_checkpoint):
    checkpoint = read_paddleseg_checkpoint(r18_checkpoint)
    deeper = build_model(backbone_depth=50, **NARROW, **PADDLESEG_LAYOUT)
    with pytest.raises(
        ValueError, match="a ResNet-18_vd PointRend checkpoint, but the model is ResNet-50$"
    ):
        paddleseg_state_dict(checkpoint, deeper)
    with pytest.raises(ValueError, match="but the model is not a PointRend network$"):
        paddleseg_state_dict(checkpoint, build_stdc_seg("stdc1"))


@pytest.mark.parametrize(
    "state, expected",
    [
        ({"conv1_1._conv.weight": np.zeros([32, 3, 3, 3], "float32")}, "ImageNet backbone"),
        ({"features.0.conv.weight": np.zeros([32, 3, 3, 3], "float32")}, "STDC ImageNet backbone"),
        ({"sem_seg_head.point_head.fc1.weight": np.zeros([2], "float32")}, "detectron2 PointRend"),
        (
            {"head.aspp.weight": np.zeros([2], "float32")},
            "another model (its tensors are under head)",
        ),
        ({"conv2d_0.w_0_velocity_0": np.zeros([2], "float32")}, "optimizer state"),
        (
            {
                "pointhead.fc_seg.weight": np.zeros([2], "float32"),
                "fpnhead.conv_seg.weight": np.zeros([2], "float32"),
            },
            "backbone other than ResNet_vd",
        ),
    ],
)
def test_files_of_another_kind_say_what_they_are(tmp_path, state, expected):
    path = tmp_path / "other.pdparams"
    paddle.save(state, str(path))
    assert expected in one_line_error(path)


def test_a_file_without_tensors_is_refused(tmp_path):
    path = tmp_path / "list.pdparams"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    assert "no tensors found" in one_line_error(path)
    with pytest.raises(FileNotFoundError):
        read_paddleseg_checkpoint(tmp_path / "absent.pdparams")
