"""Loading ImageNet-pretrained weights into a `ResNet` backbone.

Reads .pdparams (paddle.save), .pkl (Caffe2 / detectron2) and .pth (torch.save) files through the
restricted unpickler of `pointrend.utils`, so a weights file never runs code. Understands seven
parameter-name layouts and maps them onto ours:
  "paddleseg":   PaddleSeg's ResNet_vd (conv1_1._conv.weight, conv1_1._batch_norm._mean,
                 bb_0_0.conv0._conv.weight, bb_1_0.short._batch_norm.bias, ...), the names of its
                 ImageNet weights `resnet50_vd_ssld_v2.tar.gz` / `resnet101_vd_ssld.tar.gz` (a tar
                 holding model.pdparams; PaddleSeg's Cityscapes inputs: RGB, (x / 255 - 0.5) / 0.5),
  "paddleclas":  PaddleClas ResNet / ResNet_vd (conv1_1_weights, bn_conv1_1_scale,
                 res2a_branch2a_weights, bn2a_branch2a_offset, res4b22_branch1_weights, ... ;
                 the fc_0 classifier is skipped),
  "torchvision": conv1.weight, bn1.running_mean, layer1.0.downsample.0.weight, ... (fc skipped),
  "paddle.vision": torchvision's names with Paddle's norm statistics (bn1._mean, bn1._variance), as
                 saved by `paddle.vision.models.resnet50(pretrained=True)` (fc skipped),
  "detectron2":  stem.conv1.norm.weight, res2.0.conv1.weight, res2.0.shortcut.norm.weight, ...,
  "native":      this package's own names (a saved `ResNet.state_dict()`),
  "caffe2":      Detectron's Caffe2 blobs, the MSRA ImageNet weights detectron2 starts from
                 (R-50.pkl, R-101.pkl): conv1_w, res_conv1_bn_s / _b, res2_0_branch2a_w,
                 res2_0_branch2a_bn_s, res2_0_branch1_w, ... (the fc1000 classifier is skipped).
                 Their AffineChannel scale and bias already contain the BatchNorm statistics, so
                 the statistics become the identity (mean 0, variance 1 - eps). These weights
                 expect BGR input on the 0-255 scale, minus MSRA_PIXEL_MEAN, divided by
                 MSRA_PIXEL_STD.
Every backbone parameter without a source is "missing", every source tensor that was not used
(other than a classifier) is "unexpected"; both are reported by name.
"""

import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from pointrend.models.resnet import ResNet
from pointrend.utils.downloads import DownloadError, cached_download, check_sha256, is_url
from pointrend.utils.safe_pickle import CheckpointFormatError, UnsafePickleError
from pointrend.utils.weight_files import load_weights_file

logger = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "pointrend")
PADDLECLAS_NORM_SUFFIX = {
    "weight": "scale",
    "bias": "offset",
    "_mean": "mean",
    "_variance": "variance",
}
TORCHVISION_NORM_SUFFIX = {
    "weight": "weight",
    "bias": "bias",
    "_mean": "running_mean",
    "_variance": "running_var",
}
PADDLE_NORM_SUFFIX = {
    "weight": "weight",
    "bias": "bias",
    "_mean": "_mean",
    "_variance": "_variance",
}
CAFFE2_AFFINE_SUFFIX = {"weight": "s", "bias": "b"}
# detectron2's ImageNet starting points (MODEL.WEIGHTS of its configs) and their input convention:
# BGR channel order, 0-255 scale (detectron2's PIXEL_MEAN / PIXEL_STD defaults).
MSRA_RESNET_URLS = {
    50: "https://dl.fbaipublicfiles.com/detectron2/ImageNetPretrained/MSRA/R-50.pkl",
    101: "https://dl.fbaipublicfiles.com/detectron2/ImageNetPretrained/MSRA/R-101.pkl",
}
MSRA_PIXEL_MEAN = (103.53, 116.28, 123.675)
MSRA_PIXEL_STD = (1.0, 1.0, 1.0)
# PaddleSeg's ImageNet starting points for PointRend ResNet50_vd / ResNet101_vd (its Cityscapes
# configs' backbone.pretrained): tars holding model.pdparams in ResNet_vd's names ("paddleseg").
PADDLESEG_RESNET_VD_URLS = {
    50: "https://bj.bcebos.com/paddleseg/dygraph/resnet50_vd_ssld_v2.tar.gz",
    101: "https://bj.bcebos.com/paddleseg/dygraph/resnet101_vd_ssld.tar.gz",
}


class PretrainedWeightsError(ValueError):
    """Pretrained weights that cannot be used: missing, unreadable, or of another backbone."""


class PretrainedWeightsNotFound(PretrainedWeightsError, FileNotFoundError):
    """The pretrained weights file does not exist."""


def reports_pretrained_errors(load: Callable[..., Any]) -> Callable[..., Any]:
    """Make every failure of a pretrained-weights loader a PretrainedWeightsError (the command
    line reports it in one line); a refused pickle or a failed download keeps its own type."""

    @functools.wraps(load)
    def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            return load(*args, **kwargs)
        except (UnsafePickleError, DownloadError, PretrainedWeightsError):
            raise
        except FileNotFoundError as error:
            raise PretrainedWeightsNotFound(str(error)) from error
        except (ValueError, OSError, CheckpointFormatError) as error:
            raise PretrainedWeightsError(str(error)) from error

    return checked


@dataclass
class LoadReport:
    """What `load_pretrained_backbone` did; names are the backbone's for `loaded`/`missing` and the
    file's for `unexpected`/`skipped`; `derived` are norm statistics that the file folds into the
    norm's scale and bias (Caffe2), set to the identity."""

    source: str
    layout: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    derived: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        derived = (
            f", set {len(self.derived)} folded norm statistics to the identity"
            if self.derived
            else ""
        )
        lines = [
            f"{self.source} ({self.layout} names): loaded {len(self.loaded)} tensors, "
            f"skipped {len(self.skipped)} classifier tensors{derived}"
        ]
        if self.missing:
            lines.append(f"missing in the file ({len(self.missing)}): {', '.join(self.missing)}")
        if self.unexpected:
            lines.append(
                f"unexpected in the file ({len(self.unexpected)}): {', '.join(self.unexpected)}"
            )
        return "\n".join(lines)


@reports_pretrained_errors
def load_pretrained_backbone(
    backbone: ResNet,
    path_or_url: str,
    sha256: str | None = None,
    cache_dir: str | None = None,
    strict: bool = True,
) -> LoadReport:
    """Load a weights file (.pdparams, .pkl or .pth; a local path, or an http(s):// / file:// URL
    downloaded into `cache_dir`, ~/.cache/pointrend by default) into `backbone`, checking `sha256`
    when given.

    With `strict` any missing or unexpected tensor raises a ValueError listing them; otherwise
    they are logged as warnings. Shape mismatches always raise. Returns a LoadReport.
    """
    path = resolve_weights(path_or_url, sha256, cache_dir)
    source = weight_arrays(load_weights_file(path), path_or_url)
    ours = backbone.state_dict()
    layout, rename = detect_layout(backbone, list(ours), source, path_or_url)
    report = LoadReport(source=path_or_url, layout=layout)
    new_state: dict[str, np.ndarray] = {}
    mismatched = []
    for name, tensor in ours.items():
        their_name = rename(name)
        if their_name is None:
            new_state[name] = identity_statistic(backbone, name, tuple(tensor.shape))
            report.derived.append(name)
            continue
        if their_name not in source:
            report.missing.append(name)
            continue
        value = source[their_name]
        if tuple(value.shape) != tuple(tensor.shape):
            mismatched.append(f"{their_name} {tuple(value.shape)} -> {name} {tuple(tensor.shape)}")
            continue
        new_state[name] = value.astype(np.float32) if value.dtype != np.float32 else value
        report.loaded.append(name)
    used = {rename(name) for name in report.loaded}
    for their_name in source:
        if their_name in used:
            continue
        (report.skipped if is_classifier(their_name) else report.unexpected).append(their_name)
    if mismatched:
        raise ValueError(
            f"{path_or_url}: shapes do not match the backbone (depth {backbone.depth}, "
            f"stem {backbone.stem_type!r}?): " + "; ".join(mismatched)
        )
    if strict and (report.missing or report.unexpected):
        raise ValueError(
            "pretrained weights do not fit the backbone; pass strict=False to load "
            f"anyway.\n{report}"
        )
    if report.missing or report.unexpected:
        logger.warning("%s", report)
    else:
        logger.info("%s", report)
    # set_state_dict takes numpy arrays too (its type information lists tensors only).
    backbone.set_state_dict(new_state)  # type: ignore[arg-type]
    return report


def weight_arrays(loaded: Any, origin: str) -> dict[str, np.ndarray]:
    """{name: array} of a loaded weights file: the file itself, or the entry holding the weights
    ("model" of detectron2 files, "blobs" of Caffe2 / Detectron ones, "state_dict" of others)."""
    if isinstance(loaded, dict):
        for key in ("model", "blobs", "state_dict"):
            if isinstance(loaded.get(key), dict):
                loaded = loaded[key]
                break
    if not isinstance(loaded, dict) or not loaded:
        raise ValueError(
            f"{origin}: expected a dict of weight arrays, found {type(loaded).__name__} "
            f"with {len(loaded) if isinstance(loaded, dict) else 'no'} entries"
        )
    for name, value in loaded.items():
        if not isinstance(name, str) or not isinstance(value, np.ndarray):
            raise ValueError(
                f"{origin}: expected a dict of weight arrays, but entry {name!r} "
                f"holds a {type(value).__name__}"
            )
    return loaded


def identity_statistic(backbone: ResNet, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Mean 0 or variance 1 - eps for a norm whose statistics the file folds into its scale and
    bias, so that (x - mean) / sqrt(var + eps) is x and the norm computes x * scale + bias, as
    Caffe2's AffineChannel does."""
    if name.endswith("._mean"):
        return np.zeros(shape, dtype=np.float32)
    norm = dict(backbone.named_sublayers())[name.rsplit(".", 1)[0]]
    epsilon = getattr(norm, "epsilon", None) or norm._epsilon
    return np.full(shape, 1.0 - epsilon, dtype=np.float32)


def is_classifier(name: str) -> bool:
    """ImageNet classifier tensors and bookkeeping entries that a backbone has no use for
    (Caffe2's `_momentum` blobs are SGD state, which detectron2 drops as well)."""
    return (
        name.startswith(("fc.", "fc_", "fc1000_", "linear."))
        or name.endswith("_momentum")
        or name.endswith("num_batches_tracked")
        or name == "StructuredToParameterName@@"
    )


def detect_layout(
    backbone: ResNet, names: list[str], source: dict[str, np.ndarray], origin: str
) -> tuple[str, Callable[[str], str | None]]:
    """The name layout whose renaming of our names matches the most keys of `source`."""
    candidates = {
        "native": lambda name: name,
        "paddleseg": lambda name: paddleseg_name(parse_name(name)),
        "paddleclas": lambda name: paddleclas_name(parse_name(name), backbone),
        "torchvision": lambda name: torchvision_name(parse_name(name), backbone),
        "paddle.vision": lambda name: torchvision_name(
            parse_name(name), backbone, PADDLE_NORM_SUFFIX
        ),
        "detectron2": lambda name: detectron2_name(parse_name(name)),
        "caffe2": lambda name: caffe2_name(parse_name(name)),
    }
    scores = {
        layout: sum(rename(name) in source for name in names)
        for layout, rename in candidates.items()
    }
    best = max(scores, key=lambda layout: scores[layout])
    if scores[best] == 0:
        sample = ", ".join(list(source)[:5])
        raise ValueError(
            f"{origin}: no tensor names match a known ResNet layout ({', '.join(candidates)}); "
            f"the file starts with: {sample}"
        )
    return best, candidates[best]


class ParamName(NamedTuple):
    """One backbone tensor: stage 1 is the stem; layer is the conv number (1..3), 0 for the
    shortcut."""

    stage: int
    block: int
    layer: int
    is_norm: bool
    attribute: str


def parse_name(name: str) -> ParamName:
    """'stem.norm2._mean', 'res3.0.conv1.weight', 'res3.0.shortcut.norm.bias' -> ParamName."""
    parts = name.split(".")
    if parts[0] == "stem":
        return ParamName(1, 0, int(parts[1][-1]), parts[1].startswith("norm"), parts[2])
    stage, block = int(parts[0][3:]), int(parts[1])
    if parts[2] == "shortcut":
        return ParamName(stage, block, 0, parts[3] == "norm", parts[4])
    return ParamName(stage, block, int(parts[2][-1]), parts[2].startswith("norm"), parts[3])


def paddleclas_block_name(stage: int, block: int, depth: int) -> str:
    """PaddleClas block names: res2a, res2b, ...; ResNet-101's res4 counts res4a, res4b1 ..
    res4b22."""
    if depth >= 101 and stage == 4:
        return f"res{stage}a" if block == 0 else f"res{stage}b{block}"
    return f"res{stage}{chr(ord('a') + block)}"


def paddleclas_name(param: ParamName, backbone: ResNet) -> str:
    if param.stage == 1:
        conv = "conv1" if backbone.stem.num_convs == 1 else f"conv1_{param.layer}"
        norm = f"bn_{conv}"
    else:
        block = paddleclas_block_name(param.stage, param.block, backbone.depth)
        branch = "branch1" if param.layer == 0 else "branch2" + "abc"[param.layer - 1]
        conv, norm = f"{block}_{branch}", f"bn{block[3:]}_{branch}"
    if param.is_norm:
        return f"{norm}_{PADDLECLAS_NORM_SUFFIX[param.attribute]}"
    return f"{conv}_weights"


def paddleseg_name(param: ParamName) -> str:
    """PaddleSeg's ResNet_vd names: conv1_K (stem), bb_<stage>_<block>.conv<K-1> / .short, each a
    ConvBNLayer with `_conv` and `_batch_norm` (Paddle's norm tensor names)."""
    if param.stage == 1:
        layer = f"conv1_{param.layer}"
    else:
        conv = "short" if param.layer == 0 else f"conv{param.layer - 1}"
        layer = f"bb_{param.stage - 2}_{param.block}.{conv}"
    return (
        f"{layer}._batch_norm.{param.attribute}"
        if param.is_norm
        else f"{layer}._conv.{param.attribute}"
    )


def torchvision_name(
    param: ParamName, backbone: ResNet, norm_suffix: dict[str, str] = TORCHVISION_NORM_SUFFIX
) -> str:
    """torchvision names; a deep stem follows mmseg's ResNetV1c/V1d (stem.0, stem.1, stem.3, ...)
    and a "vd" shortcut mmseg's ResNetV1d (downsample.0 is the average pool). `norm_suffix` names
    the norm tensors (paddle.vision keeps Paddle's `_mean` / `_variance`)."""
    attribute = norm_suffix[param.attribute] if param.is_norm else param.attribute
    if param.stage == 1:
        if backbone.stem.num_convs == 1:
            return f"{'bn' if param.is_norm else 'conv'}1.{attribute}"
        return f"stem.{3 * (param.layer - 1) + int(param.is_norm)}.{attribute}"
    prefix = f"layer{param.stage - 1}.{param.block}"
    if param.layer == 0:
        pooled = getattr(backbone, f"res{param.stage}")[param.block].shortcut.pool is not None
        return f"{prefix}.downsample.{int(pooled) + int(param.is_norm)}.{attribute}"
    return f"{prefix}.{'bn' if param.is_norm else 'conv'}{param.layer}.{attribute}"


def detectron2_name(param: ParamName) -> str:
    attribute = TORCHVISION_NORM_SUFFIX[param.attribute] if param.is_norm else param.attribute
    prefix = "stem" if param.stage == 1 else f"res{param.stage}.{param.block}"
    conv = "shortcut" if param.layer == 0 else f"conv{param.layer}"
    return f"{prefix}.{conv}.norm.{attribute}" if param.is_norm else f"{prefix}.{conv}.{attribute}"


def caffe2_name(param: ParamName) -> str | None:
    """Detectron's Caffe2 blob names (its ResNet.py: conv1 + AffineChannel res_conv1_bn, blocks
    res<stage>_<block>_branch2a/b/c and _branch1, each conv `<name>_w`, each affine `<name>_bn_s`
    and `_bn_b`). None for norm statistics: AffineChannel has none."""
    if param.is_norm and param.attribute not in CAFFE2_AFFINE_SUFFIX:
        return None
    if param.stage == 1:
        suffix = "" if param.layer == 1 else f"_{param.layer}"
        conv, norm = f"conv1{suffix}", f"res_conv1{suffix}_bn"
    else:
        branch = "branch1" if param.layer == 0 else "branch2" + "abc"[param.layer - 1]
        conv = f"res{param.stage}_{param.block}_{branch}"
        norm = f"{conv}_bn"
    return f"{norm}_{CAFFE2_AFFINE_SUFFIX[param.attribute]}" if param.is_norm else f"{conv}_w"


def resolve_weights(
    path_or_url: str, sha256: str | None = None, cache_dir: str | None = None
) -> str:
    """A local path to the weights: the file itself, or the cached download of a URL (see
    `pointrend.utils.downloads`: cached by URL, verified on every use)."""
    if is_url(path_or_url):
        return str(cached_download(path_or_url, cache_dir or DEFAULT_CACHE_DIR, sha256))
    if not os.path.isfile(path_or_url):
        raise FileNotFoundError(
            f"pretrained weights not found: {path_or_url} "
            "(give a .pdparams, .pkl or .pth path, or a URL)"
        )
    if sha256 is not None:
        check_sha256(path_or_url, sha256)
    return path_or_url
