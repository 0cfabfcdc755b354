"""Dataset evaluation: inference over a labelled dataset, metrics, a results table and JSON.

Under data parallel every rank evaluates indices rank::world_size (no padding, so no image is
counted twice) and the confusion matrices are summed across ranks; every rank returns the same
results.
"""

import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import paddle
import paddle.nn.functional as F

from pointrend.data.sample_errors import error_safe_loader
from pointrend.inference.metrics import SegmentationMetrics
from pointrend.inference.modes import (
    WHOLE_IMAGE,
    InferenceOptions,
    eval_mode,
    predict_probabilities,
)
from pointrend.models.segmentor import subdivision_steps
from pointrend.utils import distributed
from pointrend.utils.distributed import gather_objects, unwrap_parallel
from pointrend.utils.loader_workers import ignore_interrupts
from pointrend.utils.output_files import OutputWriteError, write_text_atomically
from pointrend.utils.progress import ProgressBar


def _rank_and_world() -> tuple:
    return distributed.rank(), distributed.world_size()


def evaluate_dataset(
    model: paddle.nn.Layer,
    dataset,
    options: InferenceOptions = WHOLE_IMAGE,
    num_classes: int = 19,
    class_names: Sequence[str] | None = None,
    ignore_index: int = 255,
    boundary_width: int = 3,
    num_workers: int = 0,
    progress: bool = True,
    on_bad_sample: str = "error",
) -> dict[str, Any]:
    """Evaluate `model` on a labelled dataset of (image [3, H, W] float32, label [H, W] int64)
    items.

    Probabilities are resized to the label's size when the two differ. Returns a JSON-friendly
    dict: mIoU, pixel_accuracy, boundary_mIoU, per_class_IoU, per_class_boundary_IoU (None for
    classes absent from labels and predictions), num_images (those in the metrics), the inference
    config used (`options`, see `InferenceOptions`), and `skipped`: [{"path", "cause"}] of the
    samples left out of the metrics.

    A sample that cannot be read raises BadSampleError naming the file, or with
    on_bad_sample="skip" is left out of the metrics and listed in `skipped`.
    """
    if class_names is None:
        class_names = _default_class_names(num_classes)
    rank, world_size = _rank_and_world()
    indices = list(range(rank, len(dataset), world_size))
    loader = error_safe_loader(
        dataset,
        on_bad_sample,
        batch_sampler=[[index] for index in indices],
        num_workers=num_workers,
        worker_init_fn=ignore_interrupts,
    )
    metrics = SegmentationMetrics(num_classes, ignore_index, boundary_width)
    bar = ProgressBar(len(indices), "eval", unit="images", enabled=progress and rank == 0)
    with eval_mode(model), loader:
        for item in loader:
            if len(item) < 2:
                raise ValueError(
                    "evaluate_dataset needs a labelled dataset; this one yields images only"
                )
            image, label = item[0], item[1]
            probs = predict_probabilities(model, image, options)
            label = label.numpy()[0]
            if list(probs.shape[-2:]) != list(label.shape):
                probs = F.interpolate(
                    probs, size=list(label.shape), mode="bilinear", align_corners=False
                )
            metrics.update(paddle.argmax(probs, axis=1).numpy()[0], label)
            bar.update()
    metrics.all_reduce()
    results = metrics.results(class_names)
    skipped = [error for errors in gather_objects(loader.skipped) for error in errors]
    results["num_images"] = len(dataset) - len(skipped)
    results["skipped"] = [{"path": error.path, "cause": error.message()} for error in skipped]
    results["config"] = {**options.describe(unwrap_parallel(model)), "world_size": world_size}
    return results


def _default_class_names(num_classes: int) -> list:
    """Cityscapes names for 19 classes, else the class indices."""
    if num_classes != 19:
        return [str(index) for index in range(num_classes)]
    from pointrend.data import CITYSCAPES_CLASSES

    return list(CITYSCAPES_CLASSES)


def evaluate_with_and_without_subdivision(
    model: paddle.nn.Layer, dataset, **evaluate_options: Any
) -> dict[str, dict]:
    """`evaluate_dataset` twice: with the model's configured subdivision steps and with none.

    Keys are "subdivision_steps=<n>" and "subdivision_steps=0", ready for `format_comparison_table`.
    """
    configured = (
        int(unwrap_parallel(model).subdivision_steps)
        if hasattr(unwrap_parallel(model), "subdivision_steps")
        else None
    )
    if not configured:
        raise ValueError(
            "the model does not use subdivision (no point head or subdivision_steps=0): "
            "there is nothing to compare"
        )
    with subdivision_steps(model, configured):
        refined = evaluate_dataset(model, dataset, **evaluate_options)
    with subdivision_steps(model, 0):
        coarse = evaluate_dataset(model, dataset, **evaluate_options)
    return {f"subdivision_steps={configured}": refined, "subdivision_steps=0": coarse}


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100.0 * value:.2f}"


def _describe_configs(configs: Sequence[dict]) -> str:
    """The settings every column shares, as `key=value` pairs."""
    keys = [
        "mode",
        "scales",
        "flip",
        "crop",
        "stride",
        "subdivision_steps",
        "subdivision_num_points",
    ]
    shared = [
        key
        for key in keys
        if key in configs[0] and all(c.get(key) == configs[0][key] for c in configs)
    ]
    return " ".join(f"{key}={configs[0][key]}" for key in shared)


def format_comparison_table(named_results: dict[str, dict]) -> str:
    """Side-by-side table (one column per results dict) of per-class IoU and the summary figures, in
    %."""
    if not named_results:
        raise ValueError("format_comparison_table needs at least one results dict")
    names = list(named_results)
    first = named_results[names[0]]
    class_names = list(first["per_class_IoU"])
    boundary_width = first.get("boundary_width")
    rows = [
        (name, [named_results[n]["per_class_IoU"].get(name) for n in names]) for name in class_names
    ]
    summary = [
        ("mIoU", [named_results[n]["mIoU"] for n in names]),
        (f"boundary mIoU ({boundary_width}px)", [named_results[n]["boundary_mIoU"] for n in names]),
        ("pixel accuracy", [named_results[n]["pixel_accuracy"] for n in names]),
    ]
    label_width = max(len(label) for label, _ in rows + summary)
    column_width = max([8] + [len(n) for n in names])
    header = "class".ljust(label_width) + "".join(f"  {n:>{column_width}}" for n in names)
    rule = "-" * len(header)

    def render(label, values):
        return label.ljust(label_width) + "".join(
            f"  {_percent(v):>{column_width}}" for v in values
        )

    settings = _describe_configs([named_results[n].get("config", {}) for n in names])
    left_out = len(first.get("skipped") or [])
    counted = f"{first.get('num_images')} images" + (
        f" ({left_out} bad image(s) left out of the metrics)" if left_out else ""
    )
    lines = [f"{counted}, {settings}", header, rule]
    lines += [render(label, values) for label, values in rows]
    lines.append(rule)
    lines += [render(label, values) for label, values in summary]
    return "\n".join(lines)


def format_results_table(results: dict[str, Any]) -> str:
    """Per-class IoU and summary figures (in %) of one `evaluate_dataset` result."""
    return format_comparison_table({"IoU": results})


def write_results_json(results: dict[str, Any], path: str) -> str:
    """Write results (one dict, or several by name) as indented JSON; absent IoUs become null.
    Written whole or not at all: OutputWriteError (naming the folder) when the disk is full."""
    write_text_atomically(path, json.dumps(results, indent=2, default=_json_default) + "\n")
    return path


def write_results_or_warn(results: dict[str, Any], path: str) -> str | None:
    """`write_results_json`, but a failed write is a warning on stderr (the results were printed
    already and stay usable): the path written, or None."""
    try:
        return write_results_json(results, path)
    except OutputWriteError as error:
        print(f"warning: {error}; the results above were not saved", file=sys.stderr, flush=True)
        return None


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
