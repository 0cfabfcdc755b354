"""Every model family the recipes build runs in every exported engine, equal to dygraph: ONNX
Runtime is the default engine on CPU, so a family its conversion cannot take would break eval and
predict for that family's recipes."""

from __future__ import annotations

import numpy as np
import paddle
import pytest
from test_model_paddleseg_layout import TINY

from pointrend.inference.export import export_model
from pointrend.inference.normalization import Normalization
from pointrend.inference.onnx_runner import onnx_engine_installed
from pointrend.inference.predictor import Predictor
from pointrend.models import PADDLESEG_LAYOUT, build_model, build_stdc_network

TINY_RESNET = {**TINY, "subdivision_num_points": 64}


def _semantic_fpn():
    return build_model(**{**TINY_RESNET, "point_head": False})


def _paddleseg_layout_pointrend():
    return build_model(**{**PADDLESEG_LAYOUT, **TINY_RESNET})


def _stdc1_seg():
    return build_stdc_network("stdc1", 5)


def _stdc1_pointrend():
    return build_stdc_network(
        "stdc1", 5, point_head=True, point_head_fc_channels=16, subdivision_num_points=64
    )


FAMILIES = {
    "semantic_fpn": _semantic_fpn,
    "paddleseg_layout_pointrend": _paddleseg_layout_pointrend,
    "stdc1_seg": _stdc1_seg,
    "stdc1_pointrend": _stdc1_pointrend,
}
ENGINES = ["paddle-inference", "onnxruntime"]


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def exported_family(request, tmp_path_factory):
    paddle.seed(0)
    model = FAMILIES[request.param]().eval()
    directory = str(tmp_path_factory.mktemp(request.param))
    export_model(model, directory, Normalization((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), True, 255.0))
    return model, directory


@pytest.mark.parametrize("engine", ENGINES)
def test_exported_family_runs_in_the_engine_like_dygraph(exported_family, engine):
    if engine == "onnxruntime" and not onnx_engine_installed():
        pytest.skip("onnxruntime / paddle2onnx not installed")
    model, directory = exported_family
    predictor = Predictor(directory, device="cpu", num_threads=1, engine=engine)
    for size in [(64, 96), (70, 90)]:
        images = np.random.RandomState(sum(size)).randn(1, 3, *size).astype(np.float32)
        with paddle.no_grad():
            expected = model(paddle.to_tensor(images)).numpy()
        logits = predictor.logits(images)
        assert logits.shape == expected.shape
        # The PaddleSeg layout's logits reach ~80 with random weights and pass through resizes
        # to arbitrary sizes (70x90 has no power-of-two ratio), whose source coordinates ONNX
        # Runtime rounds differently from Paddle: up to 2.1e-4 seen, every argmax the same.
        np.testing.assert_allclose(logits, expected, atol=5e-4, rtol=1e-5)
        assert (logits.argmax(axis=1) == expected.argmax(axis=1)).mean() > 0.999
