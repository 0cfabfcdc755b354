"""The files of an exported model directory (`export_model`): one home for their names."""

from __future__ import annotations

import os

MODEL_PREFIX = "model"
PREPROCESS_FILE = "preprocess.json"
# ONNX conversion of the exported graph (`export_onnx`, cached by the ONNX Runtime engine).
ONNX_FILE = MODEL_PREFIX + ".onnx"
PARAMS_SUFFIX = ".pdiparams"
# Paddle 3 writes a PIR program (.json); older exports hold a .pdmodel.
GRAPH_SUFFIXES = (".json", ".pdmodel")


def graph_file(model_dir: str) -> str | None:
    """The exported graph's path, or None when `model_dir` holds none."""
    prefix = os.path.join(model_dir, MODEL_PREFIX)
    return next((prefix + ext for ext in GRAPH_SUFFIXES if os.path.exists(prefix + ext)), None)


def params_file(model_dir: str) -> str:
    return os.path.join(model_dir, MODEL_PREFIX + PARAMS_SUFFIX)


def exported_files(model_dir: str) -> tuple[str, str, str]:
    """(graph, params, preprocess.json) paths of an `export_model` directory; a clear
    FileNotFoundError when one is missing."""
    graph = graph_file(model_dir) or os.path.join(model_dir, MODEL_PREFIX + GRAPH_SUFFIXES[0])
    paths = (graph, params_file(model_dir), os.path.join(model_dir, PREPROCESS_FILE))
    missing = [path for path in paths if not os.path.exists(path)]
    if missing:
        raise FileNotFoundError(
            f"{model_dir} is not an exported model directory (missing {', '.join(missing)}); "
            "create one with the recipe's `export` command"
        )
    return paths
