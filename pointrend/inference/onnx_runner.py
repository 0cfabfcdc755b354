"""ONNX Runtime behind `Predictor(engine="onnxruntime")` (optional extra: pip install ".[onnx]").

Shape shorthand: N batch, K classes, H x W image.
The ONNX file is converted from the Paddle export on first use and cached next to it
(`model.onnx`), reconverted when the Paddle graph or weights are newer.
"""

from __future__ import annotations

import os

import numpy as np

from pointrend.inference.exported_files import ONNX_FILE

ONNX_ENGINE_PACKAGES = ("onnxruntime", "paddle2onnx")


def importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def onnx_engine_installed() -> bool:
    """Whether the ONNX Runtime engine can run here (it converts with paddle2onnx)."""
    return all(importable(name) for name in ONNX_ENGINE_PACKAGES)


def _import_onnxruntime():
    try:
        import onnxruntime
    except ImportError as error:
        raise ImportError(
            "engine='onnxruntime' needs onnxruntime and paddle2onnx: pip install onnxruntime "
            'paddle2onnx (or pip install -e ".[onnx]")'
        ) from error
    return onnxruntime


def cached_onnx(model_dir: str, graph_path: str, params_path: str) -> str:
    """Path of `model_dir`'s ONNX conversion, converting when missing or older than the export."""
    from pointrend.inference.export import export_onnx

    path = os.path.join(model_dir, ONNX_FILE)
    source_time = max(os.path.getmtime(graph_path), os.path.getmtime(params_path))
    if os.path.exists(path) and os.path.getmtime(path) >= source_time:
        return path
    partial = f"{path}.{os.getpid()}.partial"
    try:
        export_onnx(model_dir, partial)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return path


class OnnxRuntimeRunner:
    """logits(images [N, 3, H, W] float32) -> [N, K, H, W] float32 with ONNX Runtime."""

    def __init__(self, onnx_path: str, use_gpu: bool, gpu_id: int, num_threads: int):
        onnxruntime = _import_onnxruntime()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        # Errors only: its graph optimiser notes every node it could not fold (dozens per model).
        options.log_severity_level = 3
        if use_gpu:
            if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
                raise ValueError(
                    "engine='onnxruntime' on a GPU needs the onnxruntime-gpu package "
                    "(this onnxruntime offers only "
                    f"{', '.join(onnxruntime.get_available_providers())}); or use device='cpu'"
                )
            providers = [("CUDAExecutionProvider", {"device_id": gpu_id}), "CPUExecutionProvider"]
        else:
            providers = ["CPUExecutionProvider"]
        self._session = onnxruntime.InferenceSession(onnx_path, options, providers=providers)
        self._input_name = self._session.get_inputs()[0].name

    def logits(self, images: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input_name: images})[0]
