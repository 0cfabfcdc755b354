"""Paddle Inference behind `Predictor(engine="paddle-inference")`, with oneDNN on CPU.

Shape shorthand: N batch, K classes, H x W image.
On CPU oneDNN makes the convolutions several times faster, but Paddle 3.3's oneDNN executor
rejects some ops (every `*_interp` op: "ConvertPirAttribute2RuntimeAttribute not support
ArrayAttribute<DoubleAttribute>", Paddle issue 79749). Our own exports avoid those ops
(`pointrend.ops.resize`); for a graph that still holds one, or that fails on the first run
with oneDNN for another reason, the runner warns once and uses the plain CPU kernels.
"""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import paddle.inference as paddle_infer

# Op-name fragments the oneDNN executor of Paddle 3.3 cannot run (see the module docstring).
ONEDNN_UNSUPPORTED_OPS = ("_interp",)


def graph_ops_unsupported_by_onednn(graph_path: str) -> list[str]:
    """Names of the ops in a saved graph (PIR .json or legacy .pdmodel) that oneDNN rejects."""
    with open(graph_path, "rb") as handle:
        text = handle.read().decode("utf-8", errors="replace")
    found = set()
    for fragment in ONEDNN_UNSUPPORTED_OPS:
        found.update(re.findall(rf"[A-Za-z0-9_]*{fragment}[A-Za-z0-9_]*", text))
    return sorted(found)


class PaddleInferenceRunner:
    """logits(images [N, 3, H, W] float32) -> [N, K, H, W] float32 with Paddle Inference.

    `use_gpu`/`gpu_id` pick the device; on CPU `onednn` (default True) asks for oneDNN, which is
    used unless the graph cannot run with it; `self.onednn` says what is in use.
    """

    def __init__(
        self,
        graph_path: str,
        params_path: str,
        use_gpu: bool,
        gpu_id: int,
        num_threads: int,
        onednn: bool = True,
    ):
        self._paths = (graph_path, params_path)
        self._use_gpu, self._gpu_id, self._num_threads = use_gpu, gpu_id, num_threads
        self._verified = use_gpu or not onednn
        self.onednn = False
        if onednn and not use_gpu:
            unsupported = graph_ops_unsupported_by_onednn(graph_path)
            if unsupported:
                self._fall_back(f"the graph holds ops oneDNN cannot run ({', '.join(unsupported)})")
                return
            self.onednn = True
        self._create()

    def _create(self) -> None:
        config = paddle_infer.Config(*self._paths)
        if self._use_gpu:
            config.enable_use_gpu(256, self._gpu_id)
        else:
            config.disable_gpu()
            if self.onednn:
                config.enable_mkldnn()
            else:
                config.disable_mkldnn()
            config.set_cpu_math_library_num_threads(self._num_threads)
        config.disable_glog_info()
        self._predictor = paddle_infer.create_predictor(config)
        self._input = self._predictor.get_input_handle(self._predictor.get_input_names()[0])
        self._output_name = self._predictor.get_output_names()[0]

    def _fall_back(self, reason: str) -> None:
        warnings.warn(
            f"Paddle Inference runs {os.path.dirname(self._paths[0]) or '.'} without oneDNN "
            f"(slower on CPU): {reason}",
            RuntimeWarning,
            stacklevel=3,
        )
        self.onednn = False
        self._verified = True
        self._create()

    def _run(self, images: np.ndarray) -> np.ndarray:
        self._input.reshape(list(images.shape))
        self._input.copy_from_cpu(images)
        self._predictor.run()
        return self._predictor.get_output_handle(self._output_name).copy_to_cpu()

    def logits(self, images: np.ndarray) -> np.ndarray:
        if self._verified:
            return self._run(images)
        try:
            result = self._run(images)
        except (NotImplementedError, RuntimeError, ValueError) as error:
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
            self._fall_back(f"its first run with oneDNN failed ({first_line[:200]})")
            return self._run(images)
        self._verified = True
        return result
