"""detectron2 checkpoints: both file formats, FrozenBN versions, one-line errors for the rest."""

from __future__ import annotations

import collections
import pickle

import numpy as np
import paddle
import pytest
from torch_zip_writer import Storage, Tensor, write_torch_zip

from pointrend.convert.detectron2 import (
    detectron2_name,
    detectron2_state_dict,
    infer_architecture,
    load_detectron2_model,
    map_detectron2_names,
    read_detectron2_checkpoint,
)
from pointrend.models import build_model

NARROW = {
    "backbone_depth": 50,
    "norm": "frozen_bn",
    "backbone_base_channels": 8,
    "fpn_channels": 32,
    "head_channels": 32,
    "num_classes": 5,
    "point_head_fc_channels": 16,
}


def narrow_detectron2_weights() -> dict[str, np.ndarray]:
    """A narrow model's random weights under detectron2's names."""
    paddle.seed(1)
    model = build_model(**NARROW)
    rng = np.random.default_rng(1)
    return {
        detectron2_name(name): rng.uniform(0.5, 1.5, tensor.shape).astype(np.float32)
        for name, tensor in model.state_dict().items()
    }


@pytest.fixture(scope="module")
def weights() -> dict[str, np.ndarray]:
    return narrow_detectron2_weights()


def write_model_zoo_pkl(path, weights) -> None:
    path.write_bytes(pickle.dumps({"model": weights, "__author__": "test"}, protocol=2))


def torch_state(
    weights: dict[str, np.ndarray], versions: dict[str, int]
) -> collections.OrderedDict:
    """A torch state dict of `weights` (one storage each) with torch's per-module `_metadata`."""
    state = collections.OrderedDict()
    for key, (name, array) in enumerate(weights.items()):
        strides = tuple(int(s) // array.itemsize for s in array.strides)
        state[name] = Tensor(Storage(str(key), array.ravel()), 0, array.shape, strides)
    state._metadata = collections.OrderedDict(
        (prefix, {"version": version}) for prefix, version in versions.items()
    )
    return state


def frozen_norm_prefixes(weights) -> list[str]:
    return [
        name.removesuffix(".running_var")
        for name in weights
        if name.startswith("backbone.bottom_up.") and name.endswith(".running_var")
    ]


def test_trainer_pth_loads_like_the_model_zoo_pkl(tmp_path, weights):
    """detectron2's Checkpointer file (model, optimizer, scheduler, iteration), FrozenBN v3."""
    pkl, pth = tmp_path / "model_final.pkl", tmp_path / "model_final.pth"
    write_model_zoo_pkl(pkl, weights)
    momentum = {
        0: {"momentum_buffer": Tensor(Storage("m", np.zeros(4, np.float32)), 0, (4,), (1,))}
    }
    write_torch_zip(
        pth,
        {
            "model": torch_state(weights, dict.fromkeys(frozen_norm_prefixes(weights), 3)),
            "optimizer": {"state": momentum, "param_groups": [{"lr": 0.01, "params": [0]}]},
            "scheduler": {"base_lrs": [0.01], "last_epoch": 9},
            "iteration": 9,
        },
    )
    from_pkl, options = load_detectron2_model(pkl)
    from_pth, _ = load_detectron2_model(pth)
    assert options == infer_architecture(read_detectron2_checkpoint(pkl).shapes)
    for name, value in from_pkl.state_dict().items():
        np.testing.assert_array_equal(from_pth.state_dict()[name].numpy(), value.numpy())
    np.testing.assert_array_equal(
        from_pkl.backbone.res3[1].norm2._variance.numpy(),
        weights["backbone.bottom_up.res3.1.conv2.norm.running_var"],
    )


def test_frozen_bn_version_2_statistics_lose_the_eps_that_version_2_did_not_add(tmp_path, weights):
    """Version 2 divided by sqrt(running_var); ours divides by sqrt(running_var + eps)."""
    path = tmp_path / "old.pth"
    versions = dict.fromkeys(frozen_norm_prefixes(weights), 2)
    # torch's own BatchNorm is version 2 too: recognised by its step counter and left alone.
    batch_norm = "backbone.bottom_up.res2.0.conv1.norm"
    with_counter = {**weights, f"{batch_norm}.num_batches_tracked": np.array(5)}
    write_torch_zip(path, {"model": torch_state(with_counter, versions)})
    checkpoint = read_detectron2_checkpoint(path)
    frozen = "backbone.bottom_up.res4.2.conv1.norm.running_var"
    np.testing.assert_allclose(
        checkpoint.weights[frozen], weights[frozen] - 1e-5, rtol=0, atol=1e-7
    )
    for unchanged in (f"{batch_norm}.running_var", "backbone.bottom_up.stem.conv1.norm.weight"):
        np.testing.assert_array_equal(checkpoint.weights[unchanged], weights[unchanged])
    model = build_model(**NARROW)
    assert len(detectron2_state_dict(checkpoint, model)) == len(weights)  # step counter not needed


@pytest.mark.parametrize(
    "heads, keep_semantic_head, kind",
    [
        (
            ["proposal_generator.rpn_head.conv.weight", "roi_heads.box_predictor.cls_score.weight"],
            False,
            "an object-detection model",
        ),
        (
            ["roi_heads.box_head.fc1.weight", "roi_heads.mask_head.predictor.weight"],
            False,
            "an instance-segmentation model (Mask R-CNN)",
        ),
        (
            ["roi_heads.box_head.fc1.weight", "roi_heads.mask_point_head.fc1.weight"],
            False,
            "a PointRend instance-segmentation model",
        ),
        (
            ["roi_heads.box_head.fc1.weight", "roi_heads.mask_head.predictor.weight"],
            True,
            "a panoptic segmentation model",
        ),
    ],
)
def test_other_detectron2_models_are_named_in_one_line(
    tmp_path, weights, heads, keep_semantic_head, kind
):
    model = {
        name: value
        for name, value in weights.items()
        if keep_semantic_head or name.startswith("backbone.")
    }
    model.update({name: np.zeros((4, 4), np.float32) for name in heads})
    path = tmp_path / "model_final.pkl"
    write_model_zoo_pkl(path, model)
    with pytest.raises(ValueError) as caught:
        read_detectron2_checkpoint(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: this is {kind}") and "\n" not in message
    assert message.endswith(
        "expected a detectron2 PointRend semantic-segmentation model "
        "(sem_seg_head.coarse_sem_seg_head.* and sem_seg_head.point_head.* tensors)"
    )


def test_semantic_fpn_without_point_head_and_imagenet_blobs_are_named(tmp_path, weights):
    semantic_fpn = {
        name.replace("coarse_sem_seg_head.", ""): value
        for name, value in weights.items()
        if ".point_head." not in name
    }
    path = tmp_path / "semantic_fpn.pkl"
    write_model_zoo_pkl(path, semantic_fpn)
    with pytest.raises(
        ValueError, match="this is a semantic-segmentation model without a point head"
    ):
        read_detectron2_checkpoint(path)
    blobs = tmp_path / "R-50.pkl"
    blobs.write_bytes(pickle.dumps({"conv1_w": np.zeros((64, 3, 7, 7), np.float32)}))
    with pytest.raises(ValueError, match="this is an ImageNet backbone in Caffe2 names"):
        read_detectron2_checkpoint(blobs)
    detectron1 = tmp_path / "model_final_detectron1.pkl"
    blob = np.zeros((4, 4), np.float32)
    detectron1.write_bytes(pickle.dumps({"blobs": {"conv1_w": blob, "bbox_pred_w": blob}}))
    with pytest.raises(ValueError, match="this is a Detectron \\(Caffe2\\) detection model"):
        read_detectron2_checkpoint(detectron1)


def test_a_deeper_resnet_is_named_with_the_depths_this_package_builds(weights):
    shapes = {name: value.shape for name, value in weights.items()}
    template = {name: shape for name, shape in shapes.items() if ".res4.1." in name}
    for block in range(6, 36):
        shapes.update(
            {name.replace(".res4.1.", f".res4.{block}."): shape for name, shape in template.items()}
        )
    shapes.update(
        {
            name.replace(".res3.1.", f".res3.{block}."): shape
            for name, shape in shapes.items()
            if ".res3.1." in name
            for block in (4, 5, 6, 7)
        }
    )
    with pytest.raises(
        ValueError,
        match=r"the backbone is ResNet-152 with \(3, 8, 36, 3\) bottleneck "
        r"blocks per stage; this package builds ResNet-18, 34, 50 and 101",
    ):
        infer_architecture(shapes, "r152.pkl")


def test_a_checkpoint_of_another_depth_than_the_model_is_named(tmp_path, weights):
    path = tmp_path / "model_final.pkl"
    write_model_zoo_pkl(path, weights)
    deeper = build_model(**{**NARROW, "backbone_depth": 101})
    with pytest.raises(
        ValueError,
        match=r"a ResNet-50 PointRend checkpoint, but the model's backbone is "
        r"ResNet-101",
    ):
        detectron2_state_dict(read_detectron2_checkpoint(path), deeper)


def test_tensors_left_over_missing_or_of_another_shape_are_all_named(weights):
    ours = {
        name: tuple(tensor.shape) for name, tensor in build_model(**NARROW).state_dict().items()
    }
    theirs = {name: value.shape for name, value in weights.items()}
    del theirs["backbone.bottom_up.res3.1.conv2.norm.running_mean"]
    theirs["sem_seg_head.coarse_sem_seg_head.p2.1.weight"] = (32, 32, 3, 3)
    theirs["sem_seg_head.point_head.predictor.bias"] = (6,)
    with pytest.raises(ValueError) as caught:
        map_detectron2_names(ours, theirs, "odd.pkl")
    assert str(caught.value) == (
        "odd.pkl: the checkpoint does not fit the model: 1 tensors of the model have no source "
        "(backbone.res3.1.norm2._mean); 1 checkpoint tensors are left over "
        "(sem_seg_head.coarse_sem_seg_head.p2.1.weight); 1 shapes differ "
        "(sem_seg_head.point_head.predictor.bias (6,) vs point_head.predictor.bias (5,))"
    )
    assert len(map_detectron2_names(ours, {n: v.shape for n, v in weights.items()})) == len(weights)
