import json
import os

import numpy as np
import paddle
import pytest

from pointrend.config.recipe import IMAGENET_MEAN, IMAGENET_STD
from pointrend.inference.export import export_model, export_onnx
from pointrend.inference.normalization import Normalization
from pointrend.inference.onnx_runner import onnx_engine_installed
from pointrend.inference.predictor import Predictor
from pointrend.models import build_model

SIZES = [(64, 128), (96, 160)]
IMAGENET = Normalization(IMAGENET_MEAN, IMAGENET_STD, to_rgb=True, max_pixel_value=255.0)


def _tiny_pointrend():
    paddle.seed(0)
    model = build_model(
        backbone_depth=18,
        backbone_base_channels=16,
        fpn_channels=32,
        head_channels=16,
        point_head_fc_channels=32,
        num_classes=5,
        subdivision_steps=2,
        subdivision_num_points=256,
    )
    return model.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = _tiny_pointrend()
    directory = str(tmp_path_factory.mktemp("exported"))
    paths = export_model(
        model, directory, Normalization((0.5, 0.5, 0.5), (0.25, 0.25, 0.25), True, 255.0)
    )
    return model, directory, paths


def test_export_writes_graph_params_and_preprocess(exported):
    model, directory, paths = exported
    assert all(os.path.isfile(path) for path in paths.values())
    with open(paths["preprocess"]) as handle:
        settings = json.load(handle)
    assert settings["mean"] == [0.5, 0.5, 0.5] and settings["subdivision_steps"] == 2
    # Exporting must leave the model an ordinary dynamic layer (to_static rebinds a layer's
    # forward).
    assert not model.training and "forward" not in vars(model)


@pytest.mark.parametrize("size", SIZES, ids=[f"{h}x{w}" for h, w in SIZES])
def test_exported_logits_match_dynamic_model_with_subdivision(exported, size):
    model, directory, _ = exported
    images = np.random.RandomState(sum(size)).randn(1, 3, *size).astype(np.float32)
    with paddle.no_grad():
        expected = model(paddle.to_tensor(images)).numpy()
        model.subdivision_steps = 0
        coarse = model(paddle.to_tensor(images)).numpy()
        model.subdivision_steps = 2
    logits = Predictor(directory, device="cpu", num_threads=1).logits(images)
    assert logits.shape == (1, 5, *size)
    np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=0)
    # The graph really contains subdivision: without it the logits differ.
    assert np.abs(logits - coarse).max() > 1e-2


def test_predictor_runs_a_bgr_image_end_to_end(exported):
    model, directory, _ = exported
    image = np.random.RandomState(0).randint(0, 256, size=(70, 90, 3), dtype=np.uint8)
    predictor = Predictor(directory, device="cpu")
    train_ids = predictor.predict(image)
    normalised = (image[..., ::-1].astype(np.float32) / 255.0 - 0.5) / 0.25
    with paddle.no_grad():
        expected = (
            model(paddle.to_tensor(normalised.transpose(2, 0, 1)[None].copy())).numpy()[0].argmax(0)
        )
    assert train_ids.shape == (70, 90) and train_ids.dtype == np.uint8
    assert (train_ids == expected).mean() > 0.999


def test_predictor_rejects_a_folder_without_a_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="not an exported model directory"):
        Predictor(str(tmp_path))


def test_onnx_export_runs_in_onnxruntime_with_subdivision(exported):
    pytest.importorskip("paddle2onnx")
    onnx = pytest.importorskip("onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    model, directory, _ = exported
    path = export_onnx(directory)
    # Every bilinear upsampling of the graph (head towers, two subdivision steps) is a Resize
    # again, see pointrend.inference.onnx_graph.
    assert "DepthToSpace" not in {node.op_type for node in onnx.load(path).graph.node}
    session = onnxruntime.InferenceSession(path)
    for size in SIZES:
        images = np.random.RandomState(sum(size)).randn(1, 3, *size).astype(np.float32)
        with paddle.no_grad():
            expected = model(paddle.to_tensor(images)).numpy()
        logits = session.run(None, {session.get_inputs()[0].name: images})[0]
        # ONNX Runtime's kernels round differently from Paddle's (measured 2e-5); a GroupNorm
        # epsilon misread as 1e-43 instead of 1e-5 already moves the logits by 2e-4.
        np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=0)


def _graph_text(directory):
    with open(os.path.join(directory, "model.json"), encoding="utf-8") as handle:
        return handle.read()


def test_exported_graph_has_no_interpolation_op_and_runs_with_onednn(exported):
    model, directory, _ = exported
    assert "_interp" not in _graph_text(directory)
    images = np.random.RandomState(3).randn(1, 3, 64, 96).astype(np.float32)
    with paddle.no_grad():
        expected = model(paddle.to_tensor(images)).numpy()
    predictor = Predictor(directory, device="cpu", num_threads=1, engine="paddle-inference")
    assert predictor.onednn
    np.testing.assert_allclose(predictor.logits(images), expected, atol=1e-4, rtol=0)
    assert predictor.onednn


def test_semantic_fpn_export_has_no_interpolation_op(tmp_path):
    paddle.seed(0)
    model = build_model(
        backbone_depth=18,
        backbone_base_channels=16,
        fpn_channels=32,
        head_channels=16,
        num_classes=5,
        point_head=False,
    ).eval()
    export_model(model, str(tmp_path), IMAGENET)
    assert "_interp" not in _graph_text(str(tmp_path))
    images = np.random.RandomState(4).randn(1, 3, 70, 90).astype(np.float32)
    with paddle.no_grad():
        expected = model(paddle.to_tensor(images)).numpy()
    predictor = Predictor(str(tmp_path), device="cpu", num_threads=1, engine="paddle-inference")
    np.testing.assert_allclose(predictor.logits(images), expected, atol=1e-4, rtol=0)
    assert predictor.onednn


def test_predictor_falls_back_from_onednn_with_a_warning(tmp_path):
    model = _tiny_pointrend()
    # Three steps end at stride 1/2: the final resize is a downsampling, an interpolation op.
    model.subdivision_steps = 3
    export_model(model, str(tmp_path), IMAGENET)
    assert "bilinear_interp" in _graph_text(str(tmp_path))
    with pytest.warns(RuntimeWarning, match="without oneDNN.*bilinear_interp"):
        predictor = Predictor(str(tmp_path), device="cpu", num_threads=1, engine="paddle-inference")
    assert not predictor.onednn
    images = np.random.RandomState(5).randn(1, 3, 64, 64).astype(np.float32)
    with paddle.no_grad():
        expected = model(paddle.to_tensor(images)).numpy()
    np.testing.assert_allclose(predictor.logits(images), expected, atol=1e-4, rtol=0)


def test_onnxruntime_engine_matches_dynamic_model_and_caches_the_conversion(exported):
    pytest.importorskip("paddle2onnx")
    pytest.importorskip("onnxruntime")
    model, directory, _ = exported
    predictor = Predictor(directory, device="cpu", num_threads=1, engine="onnxruntime")
    onnx_path = os.path.join(directory, "model.onnx")
    converted_at = os.path.getmtime(onnx_path)
    images = np.random.RandomState(6).randn(2, 3, 64, 96).astype(np.float32)
    with paddle.no_grad():
        expected = model(paddle.to_tensor(images)).numpy()
    np.testing.assert_allclose(predictor.logits(images), expected, atol=1e-4, rtol=0)
    image = np.random.RandomState(7).randint(0, 256, size=(40, 50, 3), dtype=np.uint8)
    assert predictor.predict(image).shape == (40, 50)
    Predictor(directory, device="cpu", num_threads=1, engine="onnxruntime")
    assert os.path.getmtime(onnx_path) == converted_at


def test_onnxruntime_engine_missing_package_is_a_clear_error(exported, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match="pip install onnxruntime"):
        Predictor(exported[1], device="cpu", engine="onnxruntime")


def test_predictor_rejects_an_unknown_engine(exported):
    with pytest.raises(ValueError, match="engine must be 'auto' or one of"):
        Predictor(exported[1], engine="tensorrt")


def test_predictor_auto_engine_is_onnxruntime_on_cpu_when_installed(exported, monkeypatch):
    import sys

    expected = "onnxruntime" if onnx_engine_installed() else "paddle-inference"
    assert Predictor(exported[1], device="cpu", num_threads=1).engine == expected
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert Predictor(exported[1], device="cpu", num_threads=1).engine == "paddle-inference"


def test_predictor_falls_back_when_the_first_onednn_run_fails(tmp_path, monkeypatch):
    from pointrend.inference import paddle_runner

    model = _tiny_pointrend()
    model.subdivision_steps = 3
    export_model(model, str(tmp_path), IMAGENET)
    # Skip the graph scan: the interpolation op now reaches the oneDNN executor, which rejects it.
    monkeypatch.setattr(paddle_runner, "graph_ops_unsupported_by_onednn", lambda path: [])
    predictor = Predictor(str(tmp_path), device="cpu", num_threads=1, engine="paddle-inference")
    assert predictor.onednn
    images = np.random.RandomState(8).randn(1, 3, 64, 64).astype(np.float32)
    with pytest.warns(RuntimeWarning, match="first run with oneDNN failed"):
        logits = predictor.logits(images)
    assert not predictor.onednn
    with paddle.no_grad():
        expected = model(paddle.to_tensor(images)).numpy()
    np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=0)
