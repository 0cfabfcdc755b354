"""Loading ImageNet weights: PaddleClas / torchvision / detectron2 names, URLs, checksums,
reports."""

import hashlib
import pathlib

import numpy as np
import paddle
import pytest

from pointrend.models import ResNet, load_pretrained_backbone
from pointrend.models.pretrained import (
    PADDLE_NORM_SUFFIX,
    detectron2_name,
    paddleclas_name,
    parse_name,
    torchvision_name,
)
from pointrend.utils.downloads import cache_entry


def tiny_resnet(stem="vd", depth=18):
    paddle.seed(0)
    return ResNet(depth, stem=stem, base_channels=8)


def as_paddleclas(backbone):
    """The backbone's weights under PaddleClas names, plus the ImageNet classifier."""
    state = {
        paddleclas_name(parse_name(k), backbone): v.numpy()
        for k, v in backbone.state_dict().items()
    }
    state["fc_0.w_0"] = np.zeros([64, 1000], dtype="float32")
    state["fc_0.b_0"] = np.zeros([1000], dtype="float32")
    return state


def save(state, path):
    paddle.save({k: paddle.to_tensor(v) for k, v in state.items()}, str(path))
    return path


def test_paddleclas_names_follow_paddleclas():
    r18 = {
        paddleclas_name(parse_name(k), tiny_resnet("vd", 18))
        for k in tiny_resnet("vd", 18).state_dict()
    }
    assert {
        "conv1_1_weights",
        "bn_conv1_1_scale",
        "bn_conv1_3_variance",
        "res2a_branch2a_weights",
        "bn2b_branch2b_offset",
        "res3a_branch1_weights",
        "bn5a_branch1_mean",
    } <= r18
    r101 = ResNet(101, stem="vd", base_channels=8)
    names = {paddleclas_name(parse_name(k), r101) for k in r101.state_dict()}
    assert {
        "res4a_branch2c_weights",
        "res4b22_branch2c_weights",
        "bn4b22_branch2a_scale",
        "res5c_branch2c_weights",
    } <= names
    assert "res4w_branch2a_weights" not in names
    classic = ResNet(50, stem="classic", base_channels=8)
    assert paddleclas_name(parse_name("stem.norm1._mean"), classic) == "bn_conv1_mean"


def test_torchvision_and_detectron2_names():
    classic = tiny_resnet("classic")
    assert torchvision_name(parse_name("stem.norm1._variance"), classic) == "bn1.running_var"
    assert (
        torchvision_name(parse_name("res3.0.shortcut.conv.weight"), classic)
        == "layer2.0.downsample.0.weight"
    )
    assert torchvision_name(parse_name("res2.1.norm2.bias"), classic) == "layer1.1.bn2.bias"
    assert torchvision_name(parse_name("stem.norm3.weight"), tiny_resnet("deep")) == "stem.7.weight"
    # mmseg's ResNetV1d: an average pool is downsample.0 wherever the shortcut strides.
    vd = tiny_resnet("vd")
    assert (
        torchvision_name(parse_name("res3.0.shortcut.conv.weight"), vd)
        == "layer2.0.downsample.1.weight"
    )
    assert (
        torchvision_name(parse_name("res3.0.shortcut.norm._mean"), vd)
        == "layer2.0.downsample.2.running_mean"
    )
    assert (
        detectron2_name(parse_name("res3.0.shortcut.norm._mean"))
        == "res3.0.shortcut.norm.running_mean"
    )
    assert detectron2_name(parse_name("res4.1.conv2.weight")) == "res4.1.conv2.weight"


def test_load_paddle_vision_names(tmp_path):
    """paddle.vision's ResNet: torchvision's layout, Paddle's `_mean` / `_variance` statistics."""
    source = tiny_resnet("classic")
    state = {
        torchvision_name(parse_name(k), source, PADDLE_NORM_SUFFIX): v.numpy()
        for k, v in source.state_dict().items()
    }
    assert {"bn1._mean", "layer2.0.downsample.1._variance", "layer1.0.conv1.weight"} <= set(state)
    state["fc.weight"] = np.zeros([64, 1000], dtype="float32")
    target = ResNet(18, stem="classic", base_channels=8)
    report = load_pretrained_backbone(target, str(save(state, tmp_path / "resnet18.pdparams")))
    assert report.layout == "paddle.vision" and not report.missing and not report.unexpected
    for name, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[name].numpy(), value.numpy())


def test_load_paddleclas_file_and_report(tmp_path):
    source = tiny_resnet("vd")
    path = save(as_paddleclas(source), tmp_path / "ResNet18_vd_pretrained.pdparams")
    target = ResNet(18, stem="vd", base_channels=8)
    report = load_pretrained_backbone(target, str(path))
    assert report.layout == "paddleclas" and not report.missing and not report.unexpected
    assert sorted(report.skipped) == ["fc_0.b_0", "fc_0.w_0"]
    for name, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[name].numpy(), value.numpy())


def test_load_from_file_url_into_cache_with_checksum(tmp_path):
    path = save(as_paddleclas(tiny_resnet("vd")), tmp_path / "weights.pdparams")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    url = pathlib.Path(path).as_uri()
    load_pretrained_backbone(
        ResNet(18, stem="vd", base_channels=8), url, sha256=digest, cache_dir=str(cache)
    )
    entry = cache_entry(url, cache)
    assert (entry / "weights.pdparams").read_bytes() == path.read_bytes()
    assert sorted(p.name for p in entry.iterdir()) == ["download.json", "weights.pdparams"]
    with pytest.raises(ValueError, match="sha256 mismatch"):
        load_pretrained_backbone(
            ResNet(18, stem="vd", base_channels=8),
            url,
            sha256="0" * 64,
            cache_dir=str(tmp_path / "other_cache"),
        )
    assert list(cache_entry(url, tmp_path / "other_cache").iterdir()) == []


def test_missing_and_unexpected_keys_are_named(tmp_path):
    state = as_paddleclas(tiny_resnet("vd"))
    del state["res3a_branch2b_weights"]
    state["res9z_branch2a_weights"] = np.zeros([1], dtype="float32")
    path = save(state, tmp_path / "broken.pdparams")
    with pytest.raises(ValueError, match=r"res3\.0\.conv2\.weight[\s\S]*res9z_branch2a_weights"):
        load_pretrained_backbone(ResNet(18, stem="vd", base_channels=8), str(path))
    report = load_pretrained_backbone(
        ResNet(18, stem="vd", base_channels=8), str(path), strict=False
    )
    assert report.missing == ["res3.0.conv2.weight"] and report.unexpected == [
        "res9z_branch2a_weights"
    ]


def test_shape_mismatch_and_unknown_layout_raise(tmp_path):
    path = save(as_paddleclas(tiny_resnet("vd")), tmp_path / "r18.pdparams")
    with pytest.raises(ValueError, match="shapes do not match"):
        load_pretrained_backbone(ResNet(18, stem="vd", base_channels=16), str(path))
    unknown = save(
        {"backbone.body.weight": np.zeros([2], dtype="float32")}, tmp_path / "unknown.pdparams"
    )
    with pytest.raises(ValueError, match="no tensor names match"):
        load_pretrained_backbone(tiny_resnet("vd"), str(unknown))
    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        load_pretrained_backbone(tiny_resnet("vd"), str(tmp_path / "does-not-exist.pdparams"))


def test_native_state_dict_round_trip_into_frozen_bn(tmp_path):
    source = tiny_resnet("classic")
    path = tmp_path / "native.pdparams"
    paddle.save(source.state_dict(), str(path))
    target = ResNet(18, stem="classic", base_channels=8, norm="frozen_bn")
    report = load_pretrained_backbone(target, str(path))
    assert report.layout == "native" and not report.missing
    np.testing.assert_array_equal(
        target.res4[0].norm1._mean.numpy(), source.res4[0].norm1._mean.numpy()
    )
