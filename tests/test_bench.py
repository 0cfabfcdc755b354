"""The bench suite must keep running: `python -m bench --quick` end to end, JSON outputs checked.

No timing assertions (speed is the suite's output, not a test condition); only that every
script ran, wrote well-formed results, and reported positive, finite times.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from pointrend.inference.onnx_runner import onnx_engine_installed

pytestmark = pytest.mark.subprocess

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ("point_ops", "data_loading", "subdivision", "latency", "train_step")


def positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    results_dir = tmp_path_factory.mktemp("bench")
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--results-dir", str(results_dir)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return {
        name: json.loads((results_dir / f"{name}.json").read_text(encoding="utf-8"))
        for name in SCRIPTS
    }


def test_every_script_records_its_environment(quick_results):
    for name, result in quick_results.items():
        environment = result["environment"]
        assert environment["paddle"] and environment["device"], name
        assert environment["threads"], f"{name}: thread counts missing"


def test_subdivision_results(quick_results):
    result = quick_results["subdivision"]
    stages = {row["stage"]: row for row in result["stages"]}
    assert "adaptive_subdivision (all steps)" in stages
    assert all(positive(row["median_ms"]) for row in stages.values())
    assert 0 < result["share"]["subdivision_share"] < 1
    assert [row["method"] for row in result["comparison"]] == ["subdivision", "dense"]
    for row in result["comparison"]:
        assert positive(row["median_ms"]) and row["peak_mem_mb"] >= 0
    assert result["work"]["head_gflop_dense"] > result["work"]["head_gflop_subdivision"] > 0


def test_latency_results(quick_results):
    rows = quick_results["latency"]["rows"]
    dygraph = [row for row in rows if row["engine"] == "dygraph"]
    assert sorted(row["config"]["point_head"] for row in dygraph) == [False, True]
    engines = {"dygraph", "paddle-inference"} | (
        {"onnxruntime"} if onnx_engine_installed() else set()
    )
    assert {row["engine"] for row in rows} == engines
    for row in rows:
        assert positive(row["median_ms"]) and row["peak_mem_mb"] >= 0
    for row in dygraph:
        assert row["features_ms"] <= row["median_ms"]
        assert (row["subdivision_ms"] is None) == (not row["config"]["point_head"])
    (onednn,) = [row for row in rows if row["engine"] == "paddle-inference"]
    assert onednn["onednn"] and onednn["vs_dygraph"].endswith("x")


def test_train_step_results(quick_results):
    result = quick_results["train_step"]
    assert result["batch_size"] == 2 and len(result["crop"]) == 2
    for row in result["rows"]:
        assert positive(row["median_step_ms"]) and positive(row["images_per_s"])
        assert math.isfinite(row["last_loss"])


def test_point_ops_and_data_loading_results(quick_results):
    assert quick_results["point_ops"]["point_sample"]
    assert quick_results["data_loading"]["rows"]
