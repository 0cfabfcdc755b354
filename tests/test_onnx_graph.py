"""The ONNX conversion turns the interpolation-free bilinear upsampling back into Resize ops."""

import os

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from pointrend.inference.export import export_onnx
from pointrend.inference.exported_files import MODEL_PREFIX
from pointrend.ops.resize import upsample_bilinear

pytest.importorskip("paddle2onnx")
onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")


class _Upsample(paddle.nn.Layer):
    def __init__(self, factor, kernel=None):
        super().__init__()
        self.factor = factor
        self.kernel = kernel
        # A parameter, so that the export writes a weights file as a model's would.
        self.one = self.create_parameter([1], default_initializer=paddle.nn.initializer.Constant(1))

    def forward(self, x):
        x = x * self.one
        if self.kernel is None:
            return upsample_bilinear(x, self.factor)
        # The same three ops with other weights: not a bilinear upsampling.
        padded = F.pad(x, [1, 1, 1, 1], mode="replicate")
        weight = paddle.to_tensor(self.kernel)
        return F.pixel_shuffle(F.conv2d(padded, weight, groups=x.shape[1]), self.factor)


def _onnx_of(layer, directory, channels=3):
    spec = [paddle.static.InputSpec([None, channels, None, None], "float32", "images")]
    static = paddle.jit.to_static(layer, input_spec=spec, full_graph=True)
    paddle.jit.save(static, os.path.join(directory, MODEL_PREFIX))
    path = export_onnx(directory)
    return path, [node.op_type for node in onnx.load(path).graph.node]


def _run(path, x):
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


@pytest.mark.parametrize("factor", [2, 4])
def test_bilinear_upsampling_becomes_one_resize_with_the_same_values(tmp_path, factor):
    path, ops = _onnx_of(_Upsample(factor), str(tmp_path))
    assert ops.count("Resize") == 1
    assert not {"DepthToSpace", "Conv", "Pad"} & set(ops)
    x = np.random.RandomState(factor).randn(2, 3, 5, 7).astype(np.float32)
    expected = F.interpolate(
        paddle.to_tensor(x), size=[5 * factor, 7 * factor], mode="bilinear", align_corners=False
    ).numpy()
    np.testing.assert_allclose(_run(path, x), expected, atol=1e-5, rtol=0)


def test_other_convolutions_before_a_pixel_shuffle_are_left_alone(tmp_path):
    kernel = np.random.RandomState(0).rand(12, 1, 3, 3).astype(np.float32)
    layer = _Upsample(2, kernel)
    path, ops = _onnx_of(layer, str(tmp_path))
    assert "Resize" not in ops and "DepthToSpace" in ops
    x = np.random.RandomState(1).randn(1, 3, 4, 6).astype(np.float32)
    np.testing.assert_allclose(_run(path, x), layer(paddle.to_tensor(x)).numpy(), atol=1e-5, rtol=0)
