"""STDC backbones and STDC-Seg: shapes at odd sizes, parameter counts, unused heads, export."""

from __future__ import annotations

import numpy as np
import paddle
import pytest

from pointrend.models import STDCNet, STDCSeg, build_stdc_seg

# PaddleSeg 2.8's STDCSeg(19, STDC1() / STDC2()): every state_dict entry / the trainable ones
# (the rest are BN running statistics).
PUBLISHED_PARAMETER_COUNTS = {"stdc1": (8938589, 8925853), "stdc2": (12975197, 12956317)}


def ceil_div(size: int, stride: int) -> int:
    return -(-size // stride)


@pytest.fixture(scope="module")
def stdc1_seg() -> STDCSeg:
    paddle.seed(0)
    return build_stdc_seg("stdc1", num_classes=5)


@pytest.mark.parametrize("variant", ["stdc1", "stdc2"])
def test_backbone_returns_five_maps_at_strides_2_to_32_for_odd_sizes(variant):
    backbone = STDCNet(variant)
    backbone.eval()
    with paddle.no_grad():
        maps = backbone(paddle.rand([1, 3, 67, 101]))
    assert [m.shape for m in maps] == [
        [1, channels, ceil_div(67, stride), ceil_div(101, stride)]
        for channels, stride in zip(backbone.out_channels, backbone.out_strides, strict=True)
    ]
    assert backbone.out_channels == [32, 64, 256, 512, 1024]


@pytest.mark.parametrize("variant", ["stdc1", "stdc2"])
def test_parameter_counts_are_paddlesegs(variant):
    state = build_stdc_seg(variant, num_classes=19).state_dict()
    total = sum(int(v.size) for v in state.values())
    trainable = sum(int(v.size) for v in state.values() if not v.stop_gradient)
    assert (total, trainable) == PUBLISHED_PARAMETER_COUNTS[variant]


@pytest.mark.parametrize("height, width", [(64, 128), (50, 75)])
def test_eval_returns_logits_at_input_size(stdc1_seg, height, width):
    stdc1_seg.eval()
    with paddle.no_grad():
        logits = stdc1_seg(paddle.rand([2, 3, height, width]))
    assert logits.shape == [2, 5, height, width]


def test_training_returns_logits_at_strides_8_8_16_and_detail_logits(stdc1_seg):
    stdc1_seg.train()
    logits, aux8, aux16, detail = stdc1_seg(paddle.rand([2, 3, 50, 75]))
    h8, w8, h16, w16 = ceil_div(50, 8), ceil_div(75, 8), ceil_div(50, 16), ceil_div(75, 16)
    assert logits.shape == [2, 5, h8, w8] and aux8.shape == [2, 5, h8, w8]
    assert aux16.shape == [2, 5, h16, w16] and detail.shape == [2, 1, h8, w8]


def test_eval_logits_are_the_coarse_logits_resized_with_aligned_corners(stdc1_seg):
    stdc1_seg.eval()
    images = paddle.rand([1, 3, 40, 72])
    with paddle.no_grad():
        logits = stdc1_seg(images).numpy()
        coarse = stdc1_seg.coarse_logits(images).numpy()
    # align_corners=True maps the corner pixels onto each other.
    np.testing.assert_allclose(logits[..., 0, 0], coarse[..., 0, 0], rtol=1e-6)
    np.testing.assert_allclose(logits[..., -1, -1], coarse[..., -1, -1], rtol=1e-6)


def test_unused_detail_heads_never_run(stdc1_seg):
    ran: set[str] = set()
    hooks = [
        getattr(stdc1_seg, name).register_forward_post_hook(lambda *_, name=name: ran.add(name))
        for name in ("conv_out_sp2", "conv_out_sp4", "conv_out_sp8", "conv_out_sp16")
    ]
    stdc1_seg.train()
    stdc1_seg(paddle.rand([2, 3, 32, 32]))
    for hook in hooks:
        hook.remove()
    assert ran == {"conv_out_sp8"}


def test_unknown_variant_is_named():
    with pytest.raises(ValueError, match="stdc3"):
        build_stdc_seg("stdc3")


class EvalNetwork(paddle.nn.Layer):
    """Exported wrapper: to_static rebinds the traced layer's forward."""

    def __init__(self, model: paddle.nn.Layer):
        super().__init__()
        self.model = model

    def forward(self, images: paddle.Tensor) -> paddle.Tensor:
        return self.model(images)


def test_exported_eval_network_with_dynamic_size_matches_dygraph(stdc1_seg, tmp_path):
    stdc1_seg.eval()
    network = EvalNetwork(stdc1_seg)
    network.eval()
    images = paddle.rand([1, 3, 44, 84])
    with paddle.no_grad():
        expected = stdc1_seg(images).numpy()
    spec = [paddle.static.InputSpec([None, 3, None, None], "float32", "images")]
    paddle.jit.save(
        paddle.jit.to_static(network, input_spec=spec, full_graph=True), str(tmp_path / "model")
    )
    exported = paddle.jit.load(str(tmp_path / "model"))
    exported.eval()
    with paddle.no_grad():
        np.testing.assert_allclose(exported(images).numpy(), expected, rtol=1e-5, atol=1e-5)
