"""Loading ImageNet-pretrained weights into an `STDCNet` backbone.

The published Paddle STDC ImageNet weights all use the backbone's own parameter names:
  * PaddleSeg's `STDCNet1.tar.gz` / `STDCNet2.tar.gz` (and `PP_STDCNet1/2.tar.gz` of PP-LiteSeg):
    a gzipped tar holding `<name>/model.pdparams`, read here straight from the archive;
  * the `STDCNet813_73.91` / `STDCNet1446_76.47` .pdparams(.pdiparams) ports of the authors'
    PyTorch `STDCNet813M_73.91.tar` / `STDCNet1446_76.47.tar` used by the earlier Paddle STDC
    reproduction and PaddleSeg's first STDC-Seg configs.
Names: features.I.conv.weight, features.I.bn.{weight,bias,_mean,_variance} (stem, I = 0, 1),
features.I.conv_list.J.{conv,bn}.*, features.I.avd_layer.{0,1}.* (STDC blocks). Besides those the
files may hold the ImageNet classifier (conv_last.*, fc.*, bn.*, linear.*) and, when saved from the
older STDCNet class, the same tensors again under its stage aliases x2.0.0.*, x8.0.1.*, ... Both
are skipped. Also accepted: any common prefix (backbone., cp.backbone., module.) and PyTorch's
norm names (running_mean, running_var; num_batches_tracked is skipped).
Every backbone tensor without a source is "missing", every other source tensor "unexpected".
"""

from __future__ import annotations

import logging
import tarfile

import numpy as np
import paddle

from pointrend.models.pretrained import LoadReport, reports_pretrained_errors, resolve_weights
from pointrend.models.stdc import STDCNet
from pointrend.utils.paddle_files import load_paddle_archive, load_paddle_object

logger = logging.getLogger(__name__)

ANCHOR = "features.0.conv.weight"
CLASSIFIER_PREFIXES = ("conv_last.", "fc.", "bn.", "linear.")
STAGE_ALIAS_PREFIXES = ("x2.", "x4.", "x8.", "x16.", "x32.")
PYTORCH_NORM_NAMES = {"_mean": "running_mean", "_variance": "running_var"}


class STDCLoadReport(LoadReport):
    """A LoadReport whose `skipped` holds the classifier and the stage-alias tensors."""

    def __str__(self) -> str:
        lines = [
            f"{self.source} ({self.layout} names): loaded {len(self.loaded)} tensors, skipped "
            f"{len(self.skipped)} ImageNet classifier / duplicate stage-alias tensors"
        ]
        if self.missing:
            lines.append(f"missing in the file ({len(self.missing)}): {', '.join(self.missing)}")
        if self.unexpected:
            lines.append(
                f"unexpected in the file ({len(self.unexpected)}): {', '.join(self.unexpected)}"
            )
        return "\n".join(lines)


def read_pdparams(path: str) -> dict[str, np.ndarray]:
    """The tensors of a .pdparams file, or of the single .pdparams inside a (gzipped) tar."""
    state = load_paddle_archive(path) if tarfile.is_tarfile(path) else load_paddle_object(path)
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not a state dict (got {type(state).__name__})")
    return {name: np.asarray(value) for name, value in state.items()}


def is_skipped(name: str) -> bool:
    """Tensors an STDC backbone has no use for (after the prefix is removed)."""
    return name.startswith(CLASSIFIER_PREFIXES + STAGE_ALIAS_PREFIXES) or name.endswith(
        "num_batches_tracked"
    )


def source_name(name: str, prefix: str, pytorch_norms: bool) -> str:
    """The file's name of our tensor `name`."""
    if pytorch_norms:
        head, _, last = name.rpartition(".")
        name = f"{head}.{PYTORCH_NORM_NAMES.get(last, last)}"
    return prefix + name


@reports_pretrained_errors
def load_stdc_pretrained(
    backbone: STDCNet,
    path_or_url: str,
    sha256: str | None = None,
    cache_dir: str | None = None,
    strict: bool = True,
) -> STDCLoadReport:
    """Load ImageNet weights (local path, or http(s):// / file:// URL cached in `cache_dir`,
    ~/.cache/pointrend by default; .pdparams or a tar(.gz) holding one) into `backbone`,
    checking `sha256` when given.

    With `strict` any missing or unexpected tensor raises a ValueError naming them; otherwise
    they are logged as warnings. Shape mismatches (e.g. STDC2 weights into STDC1) always raise.
    """
    path = resolve_weights(path_or_url, sha256, cache_dir)
    source = read_pdparams(path)
    anchors = [name for name in source if name.endswith(ANCHOR)]
    if not anchors:
        sample = ", ".join(list(source)[:5])
        raise ValueError(
            f"{path_or_url}: no STDC backbone tensors ({ANCHOR} is missing); "
            f"the file starts with: {sample}"
        )
    prefix = min(anchors, key=len)[: -len(ANCHOR)]
    pytorch_norms = f"{prefix}features.0.bn.running_mean" in source
    layout = ("PyTorch norm" if pytorch_norms else "Paddle") + (
        f", prefix {prefix!r}" if prefix else ""
    )
    report = STDCLoadReport(source=path_or_url, layout=layout)
    new_state: dict[str, np.ndarray] = {}
    used: set[str] = set()
    mismatched = []
    for name, tensor in backbone.state_dict().items():
        their_name = source_name(name, prefix, pytorch_norms)
        if their_name not in source:
            report.missing.append(name)
            continue
        value = source[their_name]
        if tuple(value.shape) != tuple(tensor.shape):
            mismatched.append(f"{their_name} {tuple(value.shape)} -> {name} {tuple(tensor.shape)}")
            continue
        new_state[name] = value.astype(np.float32)
        used.add(their_name)
        report.loaded.append(name)
    for their_name in source:
        if their_name in used:
            continue
        skipped = their_name.startswith(prefix) and is_skipped(their_name[len(prefix) :])
        (report.skipped if skipped else report.unexpected).append(their_name)
    if mismatched:
        raise ValueError(
            f"{path_or_url}: shapes do not match the {backbone.variant} backbone (weights of the "
            "other STDC variant?): " + "; ".join(mismatched)
        )
    if strict and (report.missing or report.unexpected):
        raise ValueError(
            f"pretrained weights do not fit the {backbone.variant} backbone; pass strict=False to "
            f"load anyway.\n{report}"
        )
    (logger.warning if report.missing or report.unexpected else logger.info)("%s", report)
    backbone.set_state_dict({name: paddle.to_tensor(value) for name, value in new_state.items()})
    return report
