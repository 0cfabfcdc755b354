"""Shapes and behaviour of the model parts and the assembled segmentors (tiny widths, 64x128
inputs)."""

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from pointrend.models import (
    FPN,
    FrozenBatchNorm2D,
    PointHead,
    PointRendLoss,
    PointRendSegmentor,
    ResNet,
    Segmentor,
    SemanticFPN,
    SemanticFPNHead,
    build_model,
)

NUM_CLASSES = 5
TINY = dict(
    backbone_depth=18,
    backbone_base_channels=8,
    fpn_channels=16,
    head_channels=8,
    num_classes=NUM_CLASSES,
    point_head_fc_channels=16,
    train_num_points=64,
    subdivision_num_points=128,
)


def tiny_model(**overrides):
    paddle.seed(0)
    return build_model(**{**TINY, **overrides})


@pytest.mark.parametrize(
    "depth,stem", [(18, "classic"), (34, "deep"), (50, "vd"), (101, "classic")]
)
def test_resnet_returns_c2_to_c5(depth, stem):
    backbone = ResNet(depth, stem=stem, base_channels=8).eval()
    features = backbone(paddle.randn([1, 3, 64, 128]))
    expansion = 1 if depth < 50 else 4
    assert backbone.out_channels == [8 * expansion, 16 * expansion, 32 * expansion, 64 * expansion]
    assert backbone.out_strides == [4, 8, 16, 32]
    assert [f.shape for f in features] == [
        [1, c, 64 // s, 128 // s]
        for c, s in zip(backbone.out_channels, backbone.out_strides, strict=True)
    ]


@pytest.mark.parametrize("output_stride,strides", [(16, [4, 8, 16, 16]), (8, [4, 8, 8, 8])])
def test_resnet_dilation_keeps_resolution(output_stride, strides):
    backbone = ResNet(18, base_channels=8, output_stride=output_stride).eval()
    features = backbone(paddle.randn([1, 3, 64, 64]))
    assert backbone.out_strides == strides
    assert [f.shape[-1] for f in features] == [64 // s for s in strides]


def test_resnet_dilations_per_output_stride():
    os8 = ResNet(50, base_channels=8, output_stride=8)
    assert list(os8.res4[1].conv2._dilation) == [2, 2] and list(os8.res5[0].conv2._dilation) == [
        4,
        4,
    ]
    os16 = ResNet(50, base_channels=8, output_stride=16)
    assert list(os16.res4[0].conv1._stride) == [2, 2] and list(os16.res5[0].conv2._dilation) == [
        2,
        2,
    ]


def test_stride_placement_and_vd_shortcut():
    classic = ResNet(50, stem="classic", base_channels=8)
    assert list(classic.res3[0].conv1._stride) == [2, 2] and list(
        classic.res3[0].conv2._stride
    ) == [1, 1]
    assert classic.stem.num_convs == 1 and classic.res3[0].shortcut.pool is None
    vd = ResNet(50, stem="vd", base_channels=8)
    assert list(vd.res3[0].conv1._stride) == [1, 1] and list(vd.res3[0].conv2._stride) == [2, 2]
    assert vd.stem.num_convs == 3
    assert isinstance(vd.res3[0].shortcut.pool, paddle.nn.AvgPool2D)
    assert list(vd.res3[0].shortcut.conv._stride) == [1, 1]
    assert vd.res2[0].shortcut.pool is None  # res2 does not downsample


def test_bad_backbone_arguments_are_named():
    with pytest.raises(ValueError, match="depth"):
        ResNet(42)
    with pytest.raises(ValueError, match="stem"):
        ResNet(18, stem="wide")
    with pytest.raises(ValueError, match="norm"):
        ResNet(18, norm="ln")
    with pytest.raises(ValueError, match="output_stride"):
        ResNet(18, output_stride=4)


def test_norm_choices():
    assert isinstance(
        ResNet(18, base_channels=8, norm="syncbn").res2[0].norm1, paddle.nn.SyncBatchNorm
    )
    assert isinstance(ResNet(18, base_channels=8, norm="frozen_bn").stem.norm1, FrozenBatchNorm2D)


def test_frozen_batch_norm_matches_batch_norm_in_eval():
    bn = paddle.nn.BatchNorm2D(4)
    bn._mean.set_value(paddle.to_tensor([0.1, -0.2, 0.3, 0.0]))
    bn._variance.set_value(paddle.to_tensor([1.5, 0.5, 2.0, 1.0]))
    bn.weight.set_value(paddle.to_tensor([1.0, 2.0, 0.5, -1.0]))
    bn.bias.set_value(paddle.to_tensor([0.0, 0.1, -0.1, 0.2]))
    x = paddle.randn([2, 4, 3, 3])
    frozen = FrozenBatchNorm2D.from_batch_norm(bn)
    np.testing.assert_allclose(frozen(x).numpy(), bn.eval()(x).numpy(), atol=1e-5)
    assert frozen.parameters() == [] and set(frozen.state_dict()) == set(bn.state_dict())


def test_frozen_stages_get_no_gradient_and_keep_statistics():
    backbone = ResNet(18, base_channels=8, frozen_stages=1)
    backbone.train()
    mean_before = backbone.res2[0].norm1._mean.numpy().copy()
    sum(f.mean() for f in backbone(paddle.randn([2, 3, 64, 64]))).backward()
    for layer in (backbone.stem, backbone.res2):
        assert all(p.grad is None for p in layer.parameters())
        assert not any(isinstance(m, paddle.nn.BatchNorm2D) for m in layer.sublayers())
    assert all(p.grad is not None for p in backbone.res3.parameters() if not p.stop_gradient)
    assert isinstance(backbone.res3[0].norm1, paddle.nn.BatchNorm2D)
    np.testing.assert_array_equal(backbone.res2[0].norm1._mean.numpy(), mean_before)


def test_frozen_bn_backbone_has_no_norm_parameters():
    backbone = ResNet(18, base_channels=8, norm="frozen_bn")
    assert all(len(p.shape) == 4 for p in backbone.parameters())  # conv weights only


def test_fpn_and_semantic_head_shapes():
    features = [
        paddle.randn([2, c, 64 // s, 128 // s])
        for c, s in zip([8, 16, 32, 64], [4, 8, 16, 32], strict=True)
    ]
    pyramid = FPN([8, 16, 32, 64], 16)(features)
    assert [p.shape for p in pyramid] == [[2, 16, 64 // s, 128 // s] for s in (4, 8, 16, 32)]
    head = SemanticFPNHead(16, NUM_CLASSES, 8, "gn")
    assert [
        sum(isinstance(m, paddle.nn.Conv2D) for m in tower.sublayers()) for tower in head.towers
    ] == [1, 1, 2, 3]
    assert head(pyramid).shape == [2, NUM_CLASSES, 16, 32]
    assert SemanticFPNHead(16, NUM_CLASSES, 8, "bn")(pyramid).shape == [2, NUM_CLASSES, 16, 32]


def test_point_head_shapes_and_predictor_init():
    paddle.seed(0)
    head = PointHead(256, 19, 256, 3)
    assert [fc.weight.shape[1] for fc in head.fcs] == [
        256 + 19,
        256,
        256,
    ] and head.predictor.weight.shape[1] == 256
    std = float(head.predictor.weight.numpy().std())
    assert 0.0009 < std < 0.0011 and not head.predictor.bias.numpy().any()
    out = head(paddle.randn([2, 256, 7]), paddle.randn([2, 19, 7]))
    assert out.shape == [2, 19, 7]


def test_point_head_coarse_pred_each_layer_reads_coarse_at_every_layer():
    head = PointHead(16, NUM_CLASSES, 8, 3, coarse_pred_each_layer=True)
    assert [fc.weight.shape[1] for fc in head.fcs] == [
        16 + NUM_CLASSES,
        8 + NUM_CLASSES,
        8 + NUM_CLASSES,
    ]
    assert head.predictor.weight.shape[1] == 8 + NUM_CLASSES
    assert head(paddle.randn([1, 16, 4]), paddle.randn([1, NUM_CLASSES, 4])).shape == [
        1,
        NUM_CLASSES,
        4,
    ]


def test_training_outputs():
    model = tiny_model()
    model.train()
    coarse, point_logits, coords = model(paddle.randn([2, 3, 64, 128]))
    assert coarse.shape == [2, NUM_CLASSES, 16, 32]
    assert point_logits.shape == [2, NUM_CLASSES, 64] and coords.shape == [2, 64, 2]
    assert coords.stop_gradient and float(coords.min()) >= 0 and float(coords.max()) <= 1


def test_training_rejects_sizes_the_network_cannot_align():
    model = tiny_model()
    model.train()
    with pytest.raises(ValueError, match="multiple of 32"):
        model(paddle.randn([1, 3, 70, 130]))


@pytest.mark.parametrize("size", [(64, 128), (70, 130)])
def test_eval_logits_at_input_size(size):
    model = tiny_model()
    model.eval()
    with paddle.no_grad():
        assert model(paddle.randn([1, 3, *size])).shape == [1, NUM_CLASSES, *size]


def test_padding_is_cropped_away_not_stretched():
    """A 70x130 input is padded to 96x160; its logits must be the top-left crop of the padded
    result."""
    model = tiny_model()
    model.eval()
    images = paddle.randn([1, 3, 70, 130])
    padded = F.pad(images, [0, 30, 0, 26], data_format="NCHW")
    with paddle.no_grad():
        np.testing.assert_allclose(
            model(images).numpy(), model(padded).numpy()[:, :, :70, :130], atol=1e-5
        )


def test_without_subdivision_eval_is_bilinear_upsampling_of_coarse():
    model = tiny_model()
    model.eval()
    model.subdivision_steps = 0
    images = paddle.randn([1, 3, 64, 128])
    with paddle.no_grad():
        _, coarse = model.extract(images)
        expected = F.interpolate(coarse, size=[64, 128], mode="bilinear", align_corners=False)
        np.testing.assert_allclose(model(images).numpy(), expected.numpy(), atol=1e-6)
        model.subdivision_steps = 2
        assert not np.allclose(model(images).numpy(), expected.numpy(), atol=1e-6)


def test_semantic_fpn_baseline():
    model = tiny_model(point_head=False)
    # The baseline is a Segmentor like PointRend, not a PointRend without its head.
    assert isinstance(model, SemanticFPN) and isinstance(model, Segmentor)
    assert not isinstance(model, PointRendSegmentor) and not hasattr(model, "point_head")
    # Same weight names as the PointRend model minus its point head, so checkpoints carry over.
    pointrend_names = {
        name for name in tiny_model().state_dict() if not name.startswith("point_head.")
    }
    assert set(model.state_dict()) == pointrend_names
    model.train()
    outputs = model(paddle.randn([2, 3, 64, 128]))
    assert len(outputs) == 1 and outputs[0].shape == [2, NUM_CLASSES, 16, 32]
    assert len(PointRendLoss()(*outputs, paddle.randint(0, NUM_CLASSES, [2, 64, 128]))) == 1
    model.eval()
    with paddle.no_grad():
        assert model(paddle.randn([1, 3, 70, 130])).shape == [1, NUM_CLASSES, 70, 130]


def test_inference_with_trace():
    model = tiny_model()
    model.eval()
    logits, trace = model.inference_with_trace(paddle.randn([1, 3, 64, 128]))
    assert logits.shape == [1, NUM_CLASSES, 64, 128]
    assert [(t["height"], t["width"]) for t in trace] == [(32, 64), (64, 128)]
    for step in trace:
        assert step["indices"].shape == [1, 128] and step["coords"].shape == [1, 128, 2]
        x = (step["indices"] % step["width"]).astype("float32")
        np.testing.assert_allclose(
            step["coords"].numpy()[..., 0], ((x + 0.5) / step["width"]).numpy(), atol=1e-6
        )
    model.train()
    with pytest.raises(RuntimeError, match="eval"):
        model.inference_with_trace(paddle.randn([1, 3, 64, 128]))


def test_gradients_reach_backbone_through_each_loss_term():
    model = tiny_model()
    model.train()
    images = paddle.randn([2, 3, 64, 128])
    labels = paddle.randint(0, NUM_CLASSES, [2, 64, 128])
    first_conv = model.backbone.stem.conv1.weight
    for term in range(2):
        model.clear_gradients()
        losses = PointRendLoss()(*model(images), labels)
        losses[term].backward()
        grad = first_conv.grad
        assert grad is not None and float(grad.abs().sum()) > 0, (
            f"loss term {term} does not reach the backbone"
        )
    # The point loss trains the point head; the coarse loss does not.
    model.clear_gradients()
    PointRendLoss()(*model(images), labels)[0].backward()
    assert (
        model.point_head.predictor.weight.grad is None
        or not model.point_head.predictor.weight.grad.numpy().any()
    )


def test_point_rend_on_another_backbone_and_head():
    """Any modules fit: here a plain conv 'backbone', no neck, and a 1x1 conv coarse head at stride
    8."""

    class TinyBackbone(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = paddle.nn.Conv2D(3, 12, 3, stride=8, padding=1)

        def forward(self, x):
            return [self.conv(x)]

    class ConvHead(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = paddle.nn.Conv2D(12, NUM_CLASSES, 1)

        def forward(self, features):
            return self.conv(features[0])

    model = PointRendSegmentor(
        TinyBackbone(),
        None,
        ConvHead(),
        PointHead(12, NUM_CLASSES, 8),
        train_num_points=32,
        subdivision_steps=3,
        subdivision_num_points=64,
    )
    model.train()
    assert [o.shape for o in model(paddle.randn([1, 3, 64, 64]))] == [
        [1, NUM_CLASSES, 8, 8],
        [1, NUM_CLASSES, 32],
        [1, 32, 2],
    ]
    model.eval()
    with paddle.no_grad():
        assert model(paddle.randn([1, 3, 50, 60])).shape == [1, NUM_CLASSES, 50, 60]


def test_dilated_backbone_feeds_fpn_and_head():
    model = tiny_model(output_stride=8)
    assert model.neck.out_strides == [4, 8, 8, 8]
    model.train()
    assert model(paddle.randn([1, 3, 64, 128]))[0].shape == [1, NUM_CLASSES, 16, 32]
