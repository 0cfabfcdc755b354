"""One entry point for weight files of any supported framework, chosen by content, not by name."""

from __future__ import annotations

import os
import tarfile
import zipfile
from typing import Any

from pointrend.utils.paddle_files import load_paddle_archive, load_paddle_object
from pointrend.utils.torch_files import LEGACY_TORCH_MAGIC, load_torch_zip


def load_weights_file(path: str | os.PathLike) -> Any:
    """The object in a `.pdparams` / `.pdopt` (paddle.save; also the one `.pdparams` inside a
    tar(.gz), as PaddleSeg publishes backbones), a plain `.pkl` (detectron2 model zoo, Caffe2 /
    Detectron ImageNet weights) or a `.pth` / `.pt` (torch.save) file, with numpy arrays in
    place of tensors. Only arrays and plain containers are ever unpickled (see `safe_pickle`)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights file not found: {path}")
    if zipfile.is_zipfile(path):
        return load_torch_zip(path)
    if tarfile.is_tarfile(path):
        return load_paddle_archive(path)
    with open(path, "rb") as handle:
        head = handle.read(len(LEGACY_TORCH_MAGIC))
    if head == LEGACY_TORCH_MAGIC:
        return load_torch_zip(path)  # refuses with the reason and the way out
    # paddle.save files are plain pickles; paddle's conventions (name table, split arrays,
    # (name, array) pairs) never occur in other pickles, so one reader serves both.
    return load_paddle_object(path)
