"""Which engine runs the network in eval and predict, and the exported network that engines run.

Shape shorthand: N batch, K classes, H x W image.
"dygraph" calls the Paddle network directly. "paddle-inference" (oneDNN on CPU) and
"onnxruntime" run the network exported by `export_model`, subdivision included; the export is
made once per checkpoint and settings into a cache directory and reused while the weights files
and settings are unchanged. `ExportedNetwork` behaves like the network as far as
`pointrend.inference.modes` needs (a callable on normalised image tensors returning logits at
input resolution, plus the subdivision settings), so whole, flip, multi-scale and slide
inference work the same with every engine.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import paddle

from pointrend.inference.exported_files import PREPROCESS_FILE
from pointrend.inference.normalization import Normalization
from pointrend.inference.onnx_runner import ONNX_ENGINE_PACKAGES, importable, onnx_engine_installed

ENGINES = ("dygraph", "paddle-inference", "onnxruntime")
AUTO = "auto"


def default_engine(device: str) -> str:
    """The fastest engine measured on `device` ("cpu" or "gpu:<id>") among those installed: on
    CPU ONNX Runtime when it and paddle2onnx are installed (the fastest there, subdivision
    included), else Paddle Inference with oneDNN (see bench/README.md, "Engines"); on a GPU
    dygraph, which runs cuDNN already and needs no export."""
    if device.startswith("gpu"):
        return "dygraph"
    return "onnxruntime" if onnx_engine_installed() else "paddle-inference"


def choose_engine(requested: str, device: str) -> str:
    """`requested` ("auto" or one of ENGINES) -> an engine usable here; a clear error otherwise,
    before any work is spent."""
    if requested == AUTO:
        return default_engine(device)
    if requested not in ENGINES:
        raise ValueError(
            f"engine must be '{AUTO}' or one of {', '.join(ENGINES)}, got {requested!r}"
        )
    if requested == "onnxruntime":
        missing = [name for name in ONNX_ENGINE_PACKAGES if not importable(name)]
        if missing:
            raise ValueError(
                f"engine='onnxruntime' needs {' and '.join(missing)}: pip install onnxruntime "
                'paddle2onnx (or pip install -e ".[onnx]"), or pick another engine'
            )
    return requested


def export_key(weights_files: Sequence[str], settings: Mapping[str, Any]) -> str:
    """Hash of the weights files (name, size, modification time) and the export settings."""
    files = [
        [os.path.basename(path), os.stat(path).st_size, os.stat(path).st_mtime_ns]
        for path in weights_files
    ]
    payload = {"files": files, "settings": settings, "paddle": paddle.__version__}
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class ExportedNetwork:
    """`network`'s eval forward run by `engine` from a cached export.

    `cache_dir` holds one export per key (see `export_key` over `weights_files` and `settings`,
    the latter a JSON-friendly dict of everything else the network depends on: model config,
    normalisation). `normalization` is written to the export's preprocess.json. Setting
    `subdivision_steps` or `subdivision_num_points` switches to (and exports, once) the network
    with those settings. `exports` counts exports made.
    """

    training = False

    def __init__(
        self,
        network: paddle.nn.Layer,
        engine: str,
        cache_dir: str,
        weights_files: Sequence[str],
        settings: Mapping[str, Any],
        normalization: Normalization,
        device: str,
        num_threads: int,
    ):
        if engine not in ENGINES or engine == "dygraph":
            raise ValueError(f"ExportedNetwork runs an exported engine, not {engine!r}")
        self.dygraph_network = network
        self.engine = engine
        self.cache_dir = cache_dir
        self._weights_files = list(weights_files)
        self._settings = dict(settings)
        self._normalization = normalization
        self._device = device
        self._num_threads = num_threads
        self._predictors: dict[str, Any] = {}
        self.exports = 0

    # The subdivision settings live on the dynamic network, which is what gets exported.
    @property
    def subdivision_steps(self) -> int:
        return int(getattr(self.dygraph_network, "subdivision_steps", 0))

    @subdivision_steps.setter
    def subdivision_steps(self, steps: int) -> None:
        self.dygraph_network.subdivision_steps = int(steps)

    @property
    def subdivision_num_points(self) -> int:
        return int(getattr(self.dygraph_network, "subdivision_num_points", 0))

    @subdivision_num_points.setter
    def subdivision_num_points(self, num_points: int) -> None:
        self.dygraph_network.subdivision_num_points = int(num_points)

    def eval(self) -> ExportedNetwork:
        return self

    def train(self, mode: bool = True) -> ExportedNetwork:
        if mode:
            raise RuntimeError(
                f"the {self.engine} engine runs an exported eval graph: it cannot train"
            )
        return self

    def inference_with_trace(self, images: paddle.Tensor):
        """The subdivision trace comes from the dynamic network (exports return logits only)."""
        return self.dygraph_network.inference_with_trace(images)

    def export_dir(self) -> str:
        """The cache directory of the export for the current subdivision settings."""
        settings = {
            **self._settings,
            "normalization": self._normalization.as_dict(),
            "subdivision_steps": self.subdivision_steps,
            "subdivision_num_points": self.subdivision_num_points,
        }
        return os.path.join(self.cache_dir, export_key(self._weights_files, settings))

    def predictor(self):
        """The Predictor for the current subdivision settings, exported (and, for ONNX Runtime,
        converted) on first use; call it before timing or showing progress to keep that one-off
        work out of the first batch."""
        from pointrend.inference.predictor import Predictor

        directory = self.export_dir()
        if directory not in self._predictors:
            if not os.path.isfile(os.path.join(directory, PREPROCESS_FILE)):
                self._export(directory)
            self._predictors[directory] = Predictor(
                directory, device=self._device, num_threads=self._num_threads, engine=self.engine
            )
        return self._predictors[directory]

    def _export(self, directory: str) -> None:
        """Export into a private folder, then rename it into place: a concurrent or interrupted
        export never leaves a half-written cache entry."""
        from pointrend.inference.export import export_model

        partial = f"{directory}.partial-{os.getpid()}"
        try:
            os.makedirs(self.cache_dir, exist_ok=True)
            export_model(self.dygraph_network, partial, self._normalization)
        except OSError as error:
            raise OSError(
                f"cannot write the {self.engine} export cache {self.cache_dir} ({error}); make the "
                "checkpoint folder writable or use engine='dygraph'"
            ) from error
        try:
            os.rename(partial, directory)
        except OSError:
            if not os.path.isfile(os.path.join(directory, PREPROCESS_FILE)):
                raise
            shutil.rmtree(partial, ignore_errors=True)
        self.exports += 1
        print(
            f"exported the network for {self.engine} to {directory} "
            "(reused while the checkpoint and settings are unchanged)"
        )

    def __call__(self, images: paddle.Tensor) -> paddle.Tensor:
        """Normalised images [N, 3, H, W] -> logits [N, K, H, W], as the network's eval forward."""
        logits = self.predictor().logits(np.asarray(images.numpy(), dtype=np.float32))
        return paddle.to_tensor(logits)
