"""detectron2's ImageNet starting point: MSRA ResNets as Caffe2 blobs (R-50.pkl, R-101.pkl)."""

from __future__ import annotations

import pathlib
import pickle

import numpy as np
import paddle

from pointrend.models import ResNet, load_pretrained_backbone


def random_bn_backbone() -> ResNet:
    """A narrow ResNet-50 with BatchNorm statistics far from the identity."""
    paddle.seed(3)
    backbone = ResNet(50, stem="classic", norm="bn", base_channels=8)
    rng = np.random.default_rng(3)
    for layer in backbone.sublayers():
        if isinstance(layer, paddle.nn.BatchNorm2D):
            size = layer.weight.shape[0]
            layer.weight.set_value(rng.uniform(0.5, 1.5, size).astype(np.float32))
            layer.bias.set_value(rng.normal(0, 0.1, size).astype(np.float32))
            layer._mean.set_value(rng.normal(0, 0.2, size).astype(np.float32))
            layer._variance.set_value(rng.uniform(0.5, 2.0, size).astype(np.float32))
    return backbone.eval()


def msra_blobs(backbone: ResNet) -> dict[str, np.ndarray]:
    """The backbone as Detectron's Caffe2 blobs: each conv `<name>_w`, each BatchNorm folded into
    an AffineChannel `<name>_bn_s` / `_bn_b`; plus the classifier and SGD momentum blobs."""
    blobs = {}

    def add(conv_name: str, affine_name: str, conv, norm) -> None:
        scale = norm.weight.numpy() / np.sqrt(norm._variance.numpy() + norm._epsilon)
        blobs[f"{conv_name}_w"] = conv.weight.numpy()
        blobs[f"{affine_name}_s"] = scale
        blobs[f"{affine_name}_b"] = norm.bias.numpy() - norm._mean.numpy() * scale

    add("conv1", "res_conv1_bn", backbone.stem.conv1, backbone.stem.norm1)
    for stage in range(2, 6):
        for index, block in enumerate(getattr(backbone, f"res{stage}")):
            for branch, number in (("branch2a", 1), ("branch2b", 2), ("branch2c", 3)):
                name = f"res{stage}_{index}_{branch}"
                add(
                    name,
                    f"{name}_bn",
                    getattr(block, f"conv{number}"),
                    getattr(block, f"norm{number}"),
                )
            if block.shortcut is not None:
                name = f"res{stage}_{index}_branch1"
                add(name, f"{name}_bn", block.shortcut.conv, block.shortcut.norm)
    blobs["fc1000_w"] = np.zeros([1000, backbone.out_channels[-1]], np.float32)
    blobs["fc1000_b"] = np.zeros([1000], np.float32)
    blobs["conv1_w_momentum"] = np.zeros_like(blobs["conv1_w"])
    return blobs


def test_msra_caffe2_weights_load_from_a_url_and_compute_what_the_batchnorm_network_computes(
    tmp_path,
):
    source = random_bn_backbone()
    path = tmp_path / "R-50.pkl"
    path.write_bytes(pickle.dumps(msra_blobs(source), protocol=2))
    target = ResNet(50, stem="classic", norm="frozen_bn", base_channels=8)
    report = load_pretrained_backbone(
        target, pathlib.Path(path).as_uri(), cache_dir=str(tmp_path / "cache")
    )
    assert report.layout == "caffe2" and not report.missing and not report.unexpected
    assert sorted(report.skipped) == ["conv1_w_momentum", "fc1000_b", "fc1000_w"]
    assert len(report.derived) == 2 * 53 and all(
        n.endswith(("._mean", "._variance")) for n in report.derived
    )
    np.testing.assert_array_equal(target.stem.norm1._mean.numpy(), 0)
    np.testing.assert_allclose(np.sqrt(target.res3[1].norm2._variance.numpy() + 1e-5), 1, rtol=1e-7)
    images = paddle.to_tensor(
        np.random.default_rng(0).normal(0, 50, [1, 3, 64, 64]).astype(np.float32)
    )
    for expected, got in zip(source(images), target(images), strict=True):
        np.testing.assert_allclose(
            got.numpy(), expected.numpy(), rtol=1e-4, atol=1e-4 * float(expected.abs().max())
        )


def test_blobs_wrapped_by_detectron_under_blobs_load_too(tmp_path):
    source = random_bn_backbone()
    path = tmp_path / "model_final.pkl"
    path.write_bytes(pickle.dumps({"blobs": msra_blobs(source)}, protocol=4))
    target = ResNet(50, stem="classic", norm="frozen_bn", base_channels=8)
    assert load_pretrained_backbone(target, str(path)).layout == "caffe2"
    np.testing.assert_array_equal(
        target.res5[2].conv3.weight.numpy(), source.res5[2].conv3.weight.numpy()
    )
