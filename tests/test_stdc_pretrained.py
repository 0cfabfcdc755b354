"""Loading ImageNet STDC weights in the published Paddle layout: .pdparams, PaddleSeg .tar.gz."""

from __future__ import annotations

import hashlib
import io
import tarfile

import numpy as np
import paddle
import pytest

from pointrend.models import STDCNet, build_stdc_seg, load_stdc_pretrained
from pointrend.utils.downloads import cache_entry

CLASSIFIER = {
    "conv_last.conv.weight": [1024, 1024, 1, 1],
    "conv_last.bn._mean": [1024],
    "fc.weight": [1024, 1024],
    "bn.weight": [1024],
    "linear.weight": [1024, 1000],
}


def imagenet_state(backbone: STDCNet) -> dict[str, np.ndarray]:
    """A backbone's tensors as the published files hold them: the backbone's names, the ImageNet
    classifier and (files saved from the older STDCNet class) stage aliases x2.0.0.*, x8.0.1.*"""
    state = {name: value.numpy() for name, value in backbone.state_dict().items()}
    state.update({name: np.zeros(shape, dtype="float32") for name, shape in CLASSIFIER.items()})
    state["x2.0.0.conv.weight"] = state["features.0.conv.weight"]
    state["x8.0.1.conv_list.0.bn._variance"] = state["features.3.conv_list.0.bn._variance"]
    return state


@pytest.fixture(scope="module")
def source() -> STDCNet:
    """An STDC1 backbone with distinct random values in every tensor, statistics included."""
    rng = np.random.default_rng(0)
    backbone = STDCNet("stdc1")
    state = backbone.state_dict()
    backbone.set_state_dict(
        {name: rng.random(value.shape, dtype=np.float32) for name, value in state.items()}
    )
    return backbone


def save_pdparams(state: dict[str, np.ndarray], path) -> str:
    paddle.save(state, str(path))
    return str(path)


def save_paddleseg_archive(state: dict[str, np.ndarray], path) -> str:
    """Like PaddleSeg's STDCNet1.tar.gz: STDCNet1/model.pdparams inside a gzipped tar."""
    buffer = io.BytesIO()
    paddle.save(state, buffer)
    data = buffer.getvalue()
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        member = tarfile.TarInfo("STDCNet1/model.pdparams")
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))
    return str(path)


def assert_same_weights(target: STDCNet, source: STDCNet) -> None:
    for name, value in source.state_dict().items():
        np.testing.assert_array_equal(
            target.state_dict()[name].numpy(), value.numpy(), err_msg=name
        )


def test_pdparams_with_classifier_and_stage_aliases_loads_every_tensor(source, tmp_path):
    path = save_pdparams(imagenet_state(source), tmp_path / "STDCNet813_73.91.pdparams")
    target = STDCNet("stdc1")
    report = load_stdc_pretrained(target, path)
    assert not report.missing and not report.unexpected
    assert len(report.loaded) == len(source.state_dict())
    assert sorted(report.skipped) == sorted(
        [*CLASSIFIER, "x2.0.0.conv.weight", "x8.0.1.conv_list.0.bn._variance"]
    )
    assert_same_weights(target, source)


def test_paddleseg_tar_gz_loads_from_a_url_into_the_cache_with_checksum(source, tmp_path):
    path = save_paddleseg_archive(imagenet_state(source), tmp_path / "STDCNet1.tar.gz")
    digest = hashlib.sha256((tmp_path / "STDCNet1.tar.gz").read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    url = (tmp_path / "STDCNet1.tar.gz").as_uri()
    model = build_stdc_seg(
        "stdc1", num_classes=3, pretrained=url, pretrained_sha256=digest, cache_dir=str(cache)
    )
    assert_same_weights(model.cp.backbone, source)
    assert [p.name for p in cache_entry(url, cache).glob("*.gz")] == ["STDCNet1.tar.gz"]
    with pytest.raises(ValueError, match="sha256 mismatch"):
        load_stdc_pretrained(STDCNet("stdc1"), path, sha256="0" * 64)


def test_prefixed_names_and_pytorch_norm_names_load(source, tmp_path):
    state = {}
    for name, value in imagenet_state(source).items():
        name = name.replace("._mean", ".running_mean").replace("._variance", ".running_var")
        state[f"backbone.{name}"] = value
    state["backbone.features.0.bn.num_batches_tracked"] = np.zeros([1], dtype="int64")
    target = STDCNet("stdc1")
    report = load_stdc_pretrained(target, save_pdparams(state, tmp_path / "torch_names.pdparams"))
    assert "PyTorch" in report.layout and "backbone." in report.layout
    assert not report.missing and not report.unexpected
    assert_same_weights(target, source)


def test_missing_and_unexpected_tensors_are_named(source, tmp_path):
    state = imagenet_state(source)
    del state["features.4.avd_layer.1._mean"]
    state["features.9.conv.weight"] = np.zeros([1], dtype="float32")
    path = save_pdparams(state, tmp_path / "broken.pdparams")
    with pytest.raises(
        ValueError, match=r"features\.4\.avd_layer\.1\._mean[\s\S]*features\.9\.conv\.weight"
    ):
        load_stdc_pretrained(STDCNet("stdc1"), path)
    report = load_stdc_pretrained(STDCNet("stdc1"), path, strict=False)
    assert report.missing == ["features.4.avd_layer.1._mean"]
    assert report.unexpected == ["features.9.conv.weight"]


def test_weights_of_the_other_variant_or_of_no_stdc_are_refused(tmp_path):
    stdc2_path = save_pdparams(
        imagenet_state(STDCNet("stdc2")), tmp_path / "STDCNet1446_76.47.pdparams"
    )
    with pytest.raises(ValueError, match="shapes do not match the stdc1 backbone"):
        load_stdc_pretrained(STDCNet("stdc1"), stdc2_path)
    unrelated = save_pdparams(
        {"conv1_weights": np.zeros([2], dtype="float32")}, tmp_path / "resnet.pdparams"
    )
    with pytest.raises(ValueError, match=r"no STDC backbone tensors[\s\S]*conv1_weights"):
        load_stdc_pretrained(STDCNet("stdc1"), unrelated)
    archive = tmp_path / "empty.tar.gz"
    with tarfile.open(archive, "w:gz"):
        pass
    with pytest.raises(
        ValueError, match=r"expected one \.pdparams file in the archive, found none"
    ):
        load_stdc_pretrained(STDCNet("stdc1"), str(archive))
