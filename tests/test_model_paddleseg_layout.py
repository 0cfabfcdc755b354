"""PaddleSeg's PointRend layout as build_model options (PADDLESEG_LAYOUT), and the paper's default
left as it was."""

from __future__ import annotations

import tarfile

import numpy as np
import paddle
import pytest

from pointrend.inference.export import export_model
from pointrend.inference.normalization import Normalization
from pointrend.models import (
    FPN,
    PADDLESEG_LAYOUT,
    PaddleSegFPN,
    PaddleSegFPNHead,
    SemanticFPNHead,
    build_model,
)
from pointrend.models.pretrained import paddleseg_name, parse_name
from pointrend.ops import grid_cell_coords, uncertain_points_on_grid

TINY = {
    "backbone_depth": 18,
    "backbone_base_channels": 16,
    "fpn_channels": 16,
    "head_channels": 8,
    "point_head_fc_channels": 16,
    "num_classes": 5,
}


@pytest.fixture(scope="module")
def tiny_paddleseg():
    paddle.seed(0)
    return build_model(**TINY, **PADDLESEG_LAYOUT)


def test_default_model_keeps_the_papers_layout():
    model = build_model(**TINY)
    assert isinstance(model.neck, FPN) and isinstance(model.coarse_head, SemanticFPNHead)
    settings = (model.cell_coords, model.size_divisor, model.subdivision_num_points)
    assert settings == ("centre", 32, 8192)
    assert model.backbone.res2[0].shortcut is None  # 16 -> 16 channels: identity
    # The paper's point-head init: a predictor near zero.
    assert float(model.point_head.predictor.weight.std()) < 0.01


def test_paddleseg_layout_parts(tiny_paddleseg):
    model = tiny_paddleseg
    assert isinstance(model.neck, PaddleSegFPN) and isinstance(model.coarse_head, PaddleSegFPNHead)
    assert model.backbone.out_strides == [4, 8, 8, 8] and model.neck.out_strides == [8, 8, 8, 4]
    res2, res3, res4 = model.backbone.res2[0], model.backbone.res3[0], model.backbone.res4[0]
    # Every stage's first block projects, and only the stride-2 one pools first.
    assert res2.shortcut is not None and res2.shortcut.pool is None
    assert res3.shortcut.pool is not None and res4.shortcut.pool is None
    res4, res5 = model.backbone.res4[1], model.backbone.res5[1]
    assert res4.conv1._dilation == [2, 2] and res5.conv2._dilation == [4, 4]
    assert [len(tower) for tower in model.coarse_head.towers] == [1, 2, 4, 6]
    # Paddle's default init (PaddleSeg's): no near-zero predictor.
    assert float(model.point_head.predictor.weight.std()) > 0.05
    assert len(model.neck.output_convs) == 3


def test_paddleseg_layout_shapes_in_eval_and_training(tiny_paddleseg):
    model = tiny_paddleseg
    model.eval()
    images = paddle.rand([2, 3, 44, 70])  # no padding: any size runs as it is
    with paddle.no_grad():
        features, coarse = model.extract(images)
        logits = model(images)
    assert [list(f.shape[2:]) for f in features] == [[6, 9], [6, 9], [6, 9], [11, 18]]
    assert list(coarse.shape) == [2, 5, 6, 9] and list(logits.shape) == [2, 5, 44, 70]
    model.train()
    try:
        coarse, point_logits, coords = model(paddle.rand([2, 3, 32, 48]))
    finally:
        model.eval()
    assert list(coarse.shape) == [2, 5, 4, 6]
    assert list(point_logits.shape) == [2, 5, 2048] and list(coords.shape) == [2, 2048, 2]


def test_paddleseg_layout_exports_and_runs_any_size(tiny_paddleseg, tmp_path):
    """The exported graph keeps the unpadded odd sizes, the neck's and head's dynamic resizes and
    the "steps" coordinates (with few subdivision points, so the selection matters)."""
    model = tiny_paddleseg
    model.eval()  # the fixture is shared: do not rely on another test having left it in eval mode
    model.subdivision_num_points = 64
    try:
        export_model(
            model, str(tmp_path), Normalization((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), True, 255.0)
        )
        exported = paddle.jit.load(str(tmp_path / "model"))
        images = paddle.rand([1, 3, 44, 70])
        with paddle.no_grad():
            expected = model(images).numpy()
        np.testing.assert_allclose(exported(images).numpy(), expected, atol=1e-4)
    finally:
        model.subdivision_num_points = PADDLESEG_LAYOUT["subdivision_num_points"]


def test_steps_cell_coordinates_are_paddlesegs_float32_steps():
    indices = paddle.to_tensor([[0, 7, 12, 3 * 7 - 1]], dtype="int64")
    height, width = paddle.to_tensor(3, dtype="int64"), paddle.to_tensor(7, dtype="int64")
    steps = grid_cell_coords(indices, height, width, "steps").numpy()
    centre = grid_cell_coords(indices, height, width, "centre").numpy()
    x_step, y_step = np.float32(1.0) / np.float32(7), np.float32(1.0) / np.float32(3)
    x = indices.numpy() % 7
    expected_x = x_step / np.float32(2) + x.astype(np.float32) * x_step
    np.testing.assert_array_equal(steps[..., 0], expected_x)
    np.testing.assert_array_equal(centre[..., 0], (x.astype(np.float32) + 0.5) / np.float32(7))
    np.testing.assert_allclose(steps, centre, atol=1e-6)
    np.testing.assert_array_equal(
        steps[..., 1], y_step / np.float32(2) + np.array([[0, 1, 1, 2]], np.float32) * y_step
    )
    uncertainty = paddle.to_tensor(np.arange(21, dtype="float32").reshape([1, 1, 3, 7]))
    chosen, coords = uncertain_points_on_grid(uncertainty, 2, "steps")
    assert chosen.numpy().tolist() == [[20, 19]]
    np.testing.assert_array_equal(
        coords.numpy(), grid_cell_coords(chosen, height, width, "steps").numpy()
    )


@pytest.mark.parametrize(
    "options, message",
    [
        ({"fpn_layout": "mmseg"}, "fpn_layout"),
        ({"fpn_layout": "paddleseg"}, "head_norm must be 'none'"),
        ({"cell_coords": "corner"}, "cell_coords"),
        ({"size_divisor": 0}, "size_divisor"),
        ({"point_head_init": "zeros"}, "point head init"),
    ],
)
def test_bad_layout_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        build_model(**{**TINY, **options})


def test_paddleseg_resnet_vd_imagenet_weights_load_from_their_tar(tmp_path):
    """PaddleSeg's resnet50_vd_ssld_v2.tar.gz holds model.pdparams in ResNet_vd's own names."""
    paddle.seed(1)
    source = build_model(**TINY, **PADDLESEG_LAYOUT).backbone
    state = {
        paddleseg_name(parse_name(name)): value.numpy()
        for name, value in source.state_dict().items()
    }
    pdparams = tmp_path / "model.pdparams"
    paddle.save(state, str(pdparams))
    archive = tmp_path / "resnet18_vd_ssld.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(pdparams, arcname="resnet18_vd_ssld/model.pdparams")
    paddle.seed(2)
    model = build_model(**TINY, **PADDLESEG_LAYOUT, pretrained=str(archive))
    for name, value in source.state_dict().items():
        np.testing.assert_array_equal(
            model.backbone.state_dict()[name].numpy(), value.numpy(), err_msg=name
        )
