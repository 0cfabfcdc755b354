"""eval and predict with every engine: same results as dygraph, one export per
checkpoint+settings."""

import os
import shutil
from dataclasses import replace

import numpy as np
import paddle
import pytest
from tiny_training import two_iteration_recipe

from pointrend.app.build import build_dataset
from pointrend.app.commands import evaluate, export, load_for_inference, predict, train
from pointrend.app.errors import CommandOptionError
from pointrend.app.inference_engine import CACHE_FOLDER, network_for_engine
from pointrend.config.recipe import (
    CallbacksConfig,
    Recipe,
)
from pointrend.data.image_io import read_label
from pointrend.inference.engines import choose_engine, default_engine
from pointrend.inference.evaluate import evaluate_dataset
from pointrend.inference.modes import InferenceOptions
from pointrend.inference.onnx_runner import onnx_engine_installed
from pointrend.inference.predictor import Predictor

EXPORTED_ENGINES = ["paddle-inference", "onnxruntime"]
MODES = {
    "whole": InferenceOptions(),
    "flip+scales": InferenceOptions(flip=True, scales=(0.75, 1.0)),
    "slide": InferenceOptions(mode="slide", crop=(64, 64), stride=(32, 48)),
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, synthetic_cityscapes):
    recipe = two_iteration_recipe(
        synthetic_cityscapes,
        str(tmp_path_factory.mktemp("run")),
        CallbacksConfig(evaluation=False),
    )
    train(recipe)
    return recipe


def _engine_available(engine):
    if engine == "onnxruntime":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("paddle2onnx")


@pytest.fixture(scope="module")
def dygraph_results(trained):
    dataset = build_dataset(trained.data, train=False)
    network, _ = load_for_inference(trained)
    return {
        name: evaluate_dataset(network, dataset, options, num_classes=19, progress=False)
        for name, options in MODES.items()
    }


@pytest.mark.parametrize("engine", EXPORTED_ENGINES)
def test_every_inference_mode_gives_the_dygraph_results(trained, dygraph_results, engine):
    _engine_available(engine)
    dataset = build_dataset(trained.data, train=False)
    network, path = load_for_inference(trained)
    exported = network_for_engine(trained, network, path, engine)
    for name, options in MODES.items():
        expected = dygraph_results[name]
        results = evaluate_dataset(exported, dataset, options, num_classes=19, progress=False)
        assert abs(results["mIoU"] - expected["mIoU"]) < 1e-4, name
        assert abs(results["pixel_accuracy"] - expected["pixel_accuracy"]) < 1e-3, name
        assert results["config"]["subdivision_steps"] == 2
    # Every mode shares one export (and both engines, when the other ran first).
    assert exported.exports <= 1


def test_eval_command_exports_once_and_reuses_the_cache(trained, capsys):
    _, path = load_for_inference(trained)
    shutil.rmtree(path / CACHE_FOLDER, ignore_errors=True)
    dygraph = evaluate(trained, engine="dygraph")
    first = evaluate(trained, engine="paddle-inference")
    assert "exported the network for paddle-inference" in capsys.readouterr().out
    second = evaluate(trained, engine="paddle-inference")
    assert "exported" not in capsys.readouterr().out
    assert first["config"]["engine"] == "paddle-inference"
    assert abs(first["mIoU"] - dygraph["mIoU"]) < 0.01 and second["mIoU"] == first["mIoU"]
    assert len(list((path / CACHE_FOLDER).iterdir())) == 1
    # Other settings: another export, next to the first.
    evaluate(
        replace(trained, model=replace(trained.model, subdivision_num_points=256)),
        engine="paddle-inference",
    )
    assert "exported the network" in capsys.readouterr().out
    assert len(list((path / CACHE_FOLDER).iterdir())) == 2


def test_predict_command_with_an_exported_engine_equals_dygraph(trained, tmp_path):
    images = f"{trained.data.root}/leftImg8bit/val"
    predict(trained, images, output=str(tmp_path / "dygraph"), engine="dygraph")
    summary = predict(
        trained, images, output=str(tmp_path / "fast"), engine="paddle-inference", save_points=True
    )
    assert summary["num_predicted"] == 2
    for expected in sorted((tmp_path / "dygraph" / "trainid").rglob("*.png")):
        relative = expected.relative_to(tmp_path / "dygraph")
        agreement = (
            read_label(str(tmp_path / "fast" / relative)) == read_label(str(expected))
        ).mean()
        assert agreement > 0.999, relative
    assert len(list((tmp_path / "fast" / "points").rglob("*.png"))) == 2


def test_engine_choice(monkeypatch):
    import sys

    assert default_engine("gpu:0") == "dygraph"
    expected_on_cpu = "onnxruntime" if onnx_engine_installed() else "paddle-inference"
    assert default_engine("cpu") == choose_engine("auto", "cpu") == expected_on_cpu
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert default_engine("cpu") == "paddle-inference"
    with pytest.raises(ValueError, match="^engine must be 'auto' or one of"):
        choose_engine("tensorrt", "cpu")


def test_onnxruntime_engine_without_the_package_is_a_clear_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ValueError, match="pip install onnxruntime"):
        choose_engine("onnxruntime", "cpu")


def test_the_command_line_names_an_unknown_engine_as_its_flag():
    from pointrend.app.errors import CommandOptionError, describe
    from pointrend.app.inference_engine import engine_for

    with pytest.raises(CommandOptionError) as error:
        engine_for(Recipe(name="t", output_dir="unused", device="cpu"), "tensorrt")
    assert describe(error.value) == (
        "error: --engine must be 'auto' or one of dygraph, paddle-inference, onnxruntime, "
        "got 'tensorrt'"
    )


def test_export_command_writes_the_onnx_file_the_predictor_then_uses(trained, tmp_path):
    pytest.importorskip("paddle2onnx")
    pytest.importorskip("onnxruntime")
    directory = str(tmp_path / "exported")
    paths = export(trained, output=directory, onnx=True)
    converted_at = os.path.getmtime(paths["onnx"])
    predictor = Predictor(directory, device="cpu", num_threads=1, engine="onnxruntime")
    assert predictor.logits(np.zeros((1, 3, 64, 128), np.float32)).shape == (1, 19, 64, 128)
    assert os.path.getmtime(paths["onnx"]) == converted_at  # used as written, not converted again


def test_export_onnx_without_paddle2onnx_fails_before_any_work(trained, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "paddle2onnx", None)
    with pytest.raises(CommandOptionError, match="--onnx needs paddle2onnx"):
        export(trained, output=str(tmp_path / "exported"), onnx=True)
    assert not (tmp_path / "exported").exists()


def test_the_exported_engine_is_ready_before_the_first_batch(trained):
    network, path = load_for_inference(trained)
    shutil.rmtree(path / CACHE_FOLDER, ignore_errors=True)
    exported = network_for_engine(trained, network, path, "paddle-inference")
    # Exported when the command sets it up, so no progress bar counts that time as a batch.
    assert exported.exports == 1
    exported(paddle.zeros([1, 3, 64, 128]))
    assert exported.exports == 1
