"""Timing a segmentor's eval forward pass, split into its stages.

Stages of `PointRendSegmentor.predict`: "features" (backbone + neck + coarse head, i.e.
`model.extract`), "subdivision" (`adaptive_subdivision`, PointRend only) and "rest" (padding,
the final bilinear resize and the crop: the total minus the other two). The stages are timed
inside the real forward call by wrapping `model.extract` and the `adaptive_subdivision` the
segmentor module calls, so nothing is re-implemented here.
"""

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator

import paddle

import pointrend.models.segmentor as segmentor_module
from bench import harness

STAGES = ("features", "subdivision", "rest")


def build_input(batch: int, height: int, width: int, seed: int = 0) -> paddle.Tensor:
    """A normalised-looking random image batch [N, 3, H, W]."""
    paddle.seed(seed)
    return paddle.randn([batch, 3, height, width], dtype="float32")


@contextlib.contextmanager
def stage_timer(model: paddle.nn.Layer) -> Iterator[dict[str, list[float]]]:
    """Yields {"features": [...], "subdivision": [...]} that collects one time (ms) per call."""
    times: dict[str, list[float]] = {"features": [], "subdivision": []}

    def timed(name, function):
        def wrapper(*args, **kwargs):
            harness.synchronize()
            start = time.perf_counter()
            result = function(*args, **kwargs)
            harness.synchronize()
            times[name].append((time.perf_counter() - start) * 1000.0)
            return result

        return wrapper

    original_subdivision = segmentor_module.adaptive_subdivision
    segmentor_module.adaptive_subdivision = timed("subdivision", original_subdivision)
    model.extract = timed("features", model.extract)
    try:
        yield times
    finally:
        segmentor_module.adaptive_subdivision = original_subdivision
        del model.extract  # drop the instance attribute: the class method shows through again


@paddle.no_grad()
def time_forward(
    model: paddle.nn.Layer, images: paddle.Tensor, warmup: int, repeats: int
) -> dict[str, object]:
    """Median and spread of the eval forward pass, plus the median of each stage (ms) and the
    share of the total each stage took (medians of per-call ratios)."""
    model.eval()
    for _ in range(warmup):
        model(images)
    totals: list[float] = []
    with stage_timer(model) as stage_times:
        for _ in range(repeats):
            harness.synchronize()
            start = time.perf_counter()
            model(images)
            harness.synchronize()
            totals.append((time.perf_counter() - start) * 1000.0)
    per_call = {name: stage_times[name] or [0.0] * repeats for name in ("features", "subdivision")}
    per_call["rest"] = [
        total - per_call["features"][i] - per_call["subdivision"][i]
        for i, total in enumerate(totals)
    ]
    result: dict[str, object] = {"timing": harness.summarise(totals), "times_ms": totals}
    for name in STAGES:
        result[f"{name}_ms"] = statistics.median(per_call[name])
        result[f"{name}_share"] = statistics.median(
            stage / total for stage, total in zip(per_call[name], totals, strict=True)
        )
    return result


def time_callable(function: Callable[[], object], warmup: int, repeats: int) -> dict[str, object]:
    """Median and spread of `function()` (an exported model's whole forward pass), in ms."""
    for _ in range(warmup):
        function()
    totals: list[float] = []
    for _ in range(repeats):
        harness.synchronize()
        start = time.perf_counter()
        function()
        harness.synchronize()
        totals.append((time.perf_counter() - start) * 1000.0)
    return {"timing": harness.summarise(totals), "times_ms": totals}
