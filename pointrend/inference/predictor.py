"""Run an exported model (see `pointrend.inference.export`) with Paddle Inference or ONNX Runtime.

    predictor = Predictor("exported/")  # GPU when present (Paddle Inference), else the CPU:
                                        # ONNX Runtime when installed, else Paddle Inference
    predictor = Predictor("exported/", engine="paddle-inference")   # or engine="onnxruntime"
    train_ids = predictor.predict(cv2.imread(path))  # uint8 [H, W], trainIds 0..18

Shape shorthand: N batch, K classes, H x W image.
Needs only numpy and paddle (plus onnxruntime and paddle2onnx for that engine); no training
code is imported.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

from pointrend.inference.exported_files import exported_files
from pointrend.inference.normalization import normalize_image
from pointrend.inference.onnx_runner import onnx_engine_installed
from pointrend.utils.system import gpu_available, usable_cpus

if TYPE_CHECKING:
    from pointrend.inference.onnx_runner import OnnxRuntimeRunner
    from pointrend.inference.paddle_runner import PaddleInferenceRunner

ENGINES = ("paddle-inference", "onnxruntime")
AUTO = "auto"


def _parse_device(device: str | None) -> tuple[bool, int]:
    """'cpu' | 'gpu' | 'gpu:<id>' | None (GPU 0 when present) -> (use_gpu, gpu_id)."""
    if device is None:
        return gpu_available(), 0
    name, _, index = device.partition(":")
    if name == "cpu" and not index:
        return False, 0
    if name == "gpu" and (not index or index.isdigit()):
        if not gpu_available():
            raise ValueError(
                f"device={device!r} but this PaddlePaddle build sees no GPU; use device='cpu'"
            )
        return True, int(index or 0)
    raise ValueError(f"device must be 'cpu', 'gpu' or 'gpu:<id>', got {device!r}")


class Predictor:
    """Segment images with an exported PointRend / SemanticFPN model.

    `model_dir` is an `export_model` output directory. `engine`: "paddle-inference" (oneDNN on
    CPU unless the graph cannot run with it, then a warning), "onnxruntime" (the ONNX file is
    converted on first use and cached in `model_dir`) or "auto" (the fastest measured: ONNX
    Runtime on CPU when installed, else Paddle Inference). `device`: "cpu", "gpu", "gpu:<id>" or
    None (GPU 0 when present). `num_threads` sets CPU math threads (default: all CPUs this
    process may use). `onednn=False` turns oneDNN off (Paddle Inference on CPU only).
    """

    def __init__(
        self,
        model_dir: str,
        device: str | None = None,
        num_threads: int | None = None,
        engine: str = AUTO,
        onednn: bool = True,
    ):
        if engine not in (AUTO, *ENGINES):
            raise ValueError(f"engine must be {AUTO!r} or one of {ENGINES}, got {engine!r}")
        graph, params, preprocess_path = exported_files(model_dir)
        with open(preprocess_path, encoding="utf-8") as handle:
            self.preprocess_config = json.load(handle)
        use_gpu, gpu_id = _parse_device(device)
        threads = num_threads or usable_cpus()
        self.device = f"gpu:{gpu_id}" if use_gpu else "cpu"
        if engine == AUTO:
            on_cpu_with_onnx = not use_gpu and onnx_engine_installed()
            engine = "onnxruntime" if on_cpu_with_onnx else "paddle-inference"
        self.engine = engine
        self._runner: OnnxRuntimeRunner | PaddleInferenceRunner
        if engine == "onnxruntime":
            from pointrend.inference.onnx_runner import OnnxRuntimeRunner, cached_onnx

            onnx_path = cached_onnx(model_dir, graph, params)
            self._runner = OnnxRuntimeRunner(onnx_path, use_gpu, gpu_id, threads)
        else:
            from pointrend.inference.paddle_runner import PaddleInferenceRunner

            self._runner = PaddleInferenceRunner(graph, params, use_gpu, gpu_id, threads, onednn)

    @property
    def onednn(self) -> bool:
        """Whether Paddle Inference runs with oneDNN (False for other engines and on GPU)."""
        return bool(getattr(self._runner, "onednn", False))

    def logits(self, images: np.ndarray) -> np.ndarray:
        """Normalised images [N, 3, H, W] float32 -> logits [N, K, H, W] float32."""
        images = np.ascontiguousarray(images, dtype=np.float32)
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(
                f"logits expects normalised images [N, 3, H, W], got shape {images.shape}"
            )
        return self._runner.logits(images)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self.logits(images)

    def normalize(self, image_bgr: np.ndarray) -> np.ndarray:
        """uint8 BGR image [H, W, 3] (as from cv2.imread) -> normalised [1, 3, H, W] float32."""
        settings = self.preprocess_config
        return normalize_image(
            image_bgr,
            settings["mean"],
            settings["std"],
            settings["to_rgb"],
            settings["max_pixel_value"],
        )

    def predict(self, image_bgr: np.ndarray) -> np.ndarray:
        """uint8 BGR image [H, W, 3] -> trainId map [H, W] uint8."""
        return self.logits(self.normalize(image_bgr))[0].argmax(axis=0).astype(np.uint8)
