"""Run an exported model (see `pointrend.inference.export`) with the Paddle Inference engine.

    predictor = Predictor("exported/")              # GPU when present, else CPU
    train_ids = predictor.predict(cv2.imread(path))  # uint8 [H, W], trainIds 0..18

Needs only numpy and paddle; no training code is imported.
"""
import json
import os
from typing import Optional

import numpy as np
import paddle.inference as paddle_infer

from pointrend.inference.normalization import normalize_image
from pointrend.utils.system import gpu_available

MODEL_PREFIX = "model"
PREPROCESS_FILE = "preprocess.json"


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _parse_device(device: Optional[str]):
    """'cpu' | 'gpu' | 'gpu:<id>' | None (GPU 0 when present) -> (use_gpu, gpu_id)."""
    if device is None:
        return gpu_available(), 0
    name, _, index = device.partition(":")
    if name == "cpu" and not index:
        return False, 0
    if name == "gpu" and (not index or index.isdigit()):
        if not gpu_available():
            raise ValueError(f"device={device!r} but this PaddlePaddle build sees no GPU; use device='cpu'")
        return True, int(index or 0)
    raise ValueError(f"device must be 'cpu', 'gpu' or 'gpu:<id>', got {device!r}")


class Predictor:
    """Segment images with an exported PointRend / SemanticFPN model.

    `model_dir` is an `export_model` output directory. `num_threads` sets CPU math threads
    (default: all CPUs this process may use).
    """

    def __init__(self, model_dir: str, device: Optional[str] = None, num_threads: Optional[int] = None):
        prefix = os.path.join(model_dir, MODEL_PREFIX)
        graph = next((prefix + ext for ext in (".json", ".pdmodel") if os.path.exists(prefix + ext)), None)
        preprocess_path = os.path.join(model_dir, PREPROCESS_FILE)
        missing = [path for path in (graph or prefix + ".json", prefix + ".pdiparams", preprocess_path)
                   if not os.path.exists(path)]
        if missing:
            raise FileNotFoundError(f"{model_dir} is not an exported model directory (missing {', '.join(missing)}); "
                                    "create one with the recipe's `export` command")
        with open(preprocess_path, encoding="utf-8") as handle:
            self.preprocess_config = json.load(handle)
        use_gpu, gpu_id = _parse_device(device)
        config = paddle_infer.Config(graph, prefix + ".pdiparams")
        if use_gpu:
            config.enable_use_gpu(256, gpu_id)
        else:
            config.disable_gpu()
            # Paddle 3.3's oneDNN (MKLDNN) executor cannot run this graph's bilinear_interp ops
            # ("ConvertPirAttribute2RuntimeAttribute not support ArrayAttribute<DoubleAttribute>");
            # the plain CPU kernels can.
            config.disable_mkldnn()
            config.set_cpu_math_library_num_threads(num_threads or _usable_cpus())
        config.disable_glog_info()
        self.device = f"gpu:{gpu_id}" if use_gpu else "cpu"
        self._predictor = paddle_infer.create_predictor(config)
        self._input = self._predictor.get_input_handle(self._predictor.get_input_names()[0])
        self._output_name = self._predictor.get_output_names()[0]

    def logits(self, images: np.ndarray) -> np.ndarray:
        """Normalised images [N, 3, H, W] float32 -> logits [N, K, H, W] float32."""
        images = np.ascontiguousarray(images, dtype=np.float32)
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"logits expects normalised images [N, 3, H, W], got shape {images.shape}")
        self._input.reshape(list(images.shape))
        self._input.copy_from_cpu(images)
        self._predictor.run()
        return self._predictor.get_output_handle(self._output_name).copy_to_cpu()

    def normalize(self, image_bgr: np.ndarray) -> np.ndarray:
        """uint8 BGR image [H, W, 3] (as from cv2.imread) -> normalised [1, 3, H, W] float32."""
        settings = self.preprocess_config
        return normalize_image(image_bgr, settings["mean"], settings["std"], settings["to_rgb"],
                               settings["max_pixel_value"])

    def predict(self, image_bgr: np.ndarray) -> np.ndarray:
        """uint8 BGR image [H, W, 3] -> trainId map [H, W] uint8."""
        return self.logits(self.normalize(image_bgr))[0].argmax(axis=0).astype(np.uint8)
