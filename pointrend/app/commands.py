"""What the recipe command line runs: train, evaluate, predict, export."""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Collection
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import paddle
import paddle.distributed as dist

from pointrend.app.build import (
    build_dataset,
    build_network,
    build_trainer,
    check_num_classes,
    evaluation_options,
    inference_options,
    normalization,
    prediction_palette,
    val_transforms,
)
from pointrend.app.checkpoints import recipe_for_checkpoint
from pointrend.app.errors import CommandOptionError
from pointrend.app.inference_engine import engine_for, network_for_engine
from pointrend.app.runtime import setup_runtime
from pointrend.config.recipe import Recipe, recipe_to_dict
from pointrend.config.validate import validate
from pointrend.data.sample_errors import BadSampleError
from pointrend.inference.onnx_runner import importable
from pointrend.train.bad_samples import report_skipped
from pointrend.train.checkpoint import (
    EMA_FILE,
    MODEL_FILE,
    CheckpointError,
    load_weights,
    read_state_dict,
    resolve_checkpoint,
)
from pointrend.train.converted_checkpoint import NotResumableError
from pointrend.train.finite import refuse_non_finite
from pointrend.train.run_lock import RunLock
from pointrend.utils.distributed import is_main_process, world_size
from pointrend.utils.output_files import write_text_atomically


def _write_recipe(recipe: Recipe) -> None:
    write_text_atomically(
        os.path.join(recipe.output_dir, "recipe.json"),
        json.dumps(recipe_to_dict(recipe), indent=2) + "\n",
    )


def train(recipe: Recipe, resume: Any = None) -> None:
    """resume: None/False (fresh run), True (latest checkpoint in output_dir) or a checkpoint
    path."""
    validate(recipe, processes=world_size())
    # Rank 0 writes everything in output_dir, so it alone holds the folder's lock.
    lock = RunLock(recipe.output_dir, shlex.join(sys.argv)) if is_main_process() else nullcontext()
    with lock:
        runtime = setup_runtime(recipe.device, recipe.seed, recipe.threads)
        resume_from = recipe.output_dir if resume is True else (resume or None)
        trainer = build_trainer(recipe, runtime, load_pretrained=resume_from is None)
        if is_main_process():
            _write_recipe(recipe)
        try:
            trainer.fit(resume=resume_from)
        except NotResumableError as error:
            raise CheckpointError(
                f"{error}; give it to eval, predict or export with --checkpoint"
            ) from None
    if is_main_process():
        print(
            f"training finished: checkpoints in {trainer.checkpoints.directory}, "
            f"TensorBoard logs in {os.path.join(recipe.output_dir, 'tensorboard')}"
        )


def load_for_inference(
    recipe: Recipe, checkpoint: str | None = None
) -> tuple[paddle.nn.Layer, Path]:
    """The recipe's network with a checkpoint's evaluation weights (EMA when saved), in eval mode.
    Default checkpoint: the best in output_dir, else the latest."""
    setup_runtime(recipe.device, recipe.seed, recipe.threads)
    network = build_network(recipe.model, load_pretrained=False)
    path = resolve_checkpoint(checkpoint or recipe.output_dir, prefer="best")
    state = read_state_dict(path, EMA_FILE)
    which = "EMA"
    if state is None:
        state, which = read_state_dict(path, MODEL_FILE, required=True), "raw"
    refuse_non_finite(state, path, "using it")
    load_weights(network, path, state, recipe_to_dict(recipe))
    network.eval()
    if is_main_process():
        print(f"loaded {which} weights from {path}")
    return network, path


def evaluate(
    recipe: Recipe,
    checkpoint: str | None = None,
    explicit: Collection[str] = (),
    engine: str = "auto",
) -> dict:
    """Evaluate on the val split; with eval.compare_without_subdivision, also without the
    PointRend subdivision (same weights). Prints a table, writes JSON next to the checkpoints.
    `engine`: "auto" (fastest on this device), "dygraph", "paddle-inference" or "onnxruntime"
    (see `pointrend.app.inference_engine`).
    A converted checkpoint brings its model settings and normalisation (see
    `recipe_for_checkpoint`; `explicit` names the fields set on the command line)."""
    from pointrend.inference.evaluate import (
        evaluate_dataset,
        evaluate_with_and_without_subdivision,
        format_comparison_table,
        format_results_table,
        write_results_or_warn,
    )

    validate(recipe)
    converted = recipe_for_checkpoint(recipe, checkpoint, explicit)
    if converted.model.num_classes != recipe.model.num_classes:
        raise CheckpointError(
            f"{checkpoint} predicts {converted.model.num_classes} classes, the recipe's dataset "
            f"has {recipe.model.num_classes}: evaluate it on data labelled with its classes "
            f"(--model.num_classes={converted.model.num_classes} with such a --data.root); predict "
            "and export take it as it is"
        )
    recipe = converted
    engine = engine_for(recipe, engine)
    dataset = build_dataset(recipe.data, train=False)
    check_num_classes(recipe, dataset)
    network, path = load_for_inference(recipe, checkpoint)
    network = network_for_engine(recipe, network, path, engine)
    if world_size() > 1:
        dist.init_parallel_env()
    options = evaluation_options(recipe, dataset.class_names)
    try:
        if recipe.eval.compare_without_subdivision:
            results = evaluate_with_and_without_subdivision(network, dataset, **options)
            table = format_comparison_table(results)
            skipped = next(iter(results.values())).get("skipped", [])
        else:
            results = evaluate_dataset(network, dataset, **options)
            table = format_results_table(results)
            skipped = results.get("skipped", [])
    except BadSampleError as error:
        raise BadSampleError(
            error.error,
            "met by the evaluation; fix or remove the file, or set "
            "--data.on_bad_sample=skip to leave it out of the metrics",
        ) from None
    for result in results.values() if recipe.eval.compare_without_subdivision else [results]:
        result["config"]["engine"] = engine
    if is_main_process():
        # The table first: when the JSON cannot be written (full disk) the results are not lost.
        print(table, flush=True)
        output = write_results_or_warn(
            {"checkpoint": str(path), "results": results},
            os.path.join(recipe.output_dir, "eval", f"{path.name}.json"),
        )
        if output:
            print(f"results written to {output}")
        if results.get("pixel_accuracy", 0.0) is None or any(
            isinstance(part, dict) and part.get("pixel_accuracy", 0.0) is None
            for part in results.values()
        ):
            print(
                f"warning: the {len(dataset)} validation images have no labelled pixel (every "
                f"label pixel is --data.ignore_index={recipe.data.ignore_index}): the metrics are "
                "undefined"
            )
        report_skipped(skipped, f"evaluation of {path.name}", recipe.output_dir)
    return results


def predict(
    recipe: Recipe,
    input: str,
    output: str | None = None,
    checkpoint: str | None = None,
    label_format: str = "trainid",
    save_points: bool = False,
    explicit: Collection[str] = (),
    engine: str = "auto",
) -> dict:
    """Predict image files; a converted checkpoint brings its model settings and normalisation.
    `engine` as for `evaluate`."""
    from pointrend.inference.predict_files import describe_predict_summary, predict_paths

    validate(recipe)
    converted = recipe_for_checkpoint(recipe, checkpoint, explicit)
    if label_format == "labelid" and converted.model.num_classes != recipe.model.num_classes:
        raise CheckpointError(
            f"{checkpoint} predicts {converted.model.num_classes} classes, not the recipe's "
            f"{recipe.model.num_classes}, so their Cityscapes labelIds are unknown: use "
            "--label_format=trainid"
        )
    recipe = converted
    engine = engine_for(recipe, engine)
    network, path = load_for_inference(recipe, checkpoint)
    network = network_for_engine(recipe, network, path, engine)
    output = output or os.path.join(recipe.output_dir, "predictions")
    summary = predict_paths(
        network,
        input,
        output,
        val_transforms(recipe.data),
        label_format=label_format,
        save_points=save_points,
        options=inference_options(recipe),
        palette=prediction_palette(recipe),
    )
    print(describe_predict_summary(summary))
    return summary


def export(
    recipe: Recipe,
    output: str | None = None,
    checkpoint: str | None = None,
    explicit: Collection[str] = (),
    onnx: bool = False,
) -> dict:
    """Export the eval pipeline (and its ONNX conversion with `onnx`); a converted checkpoint
    brings its model settings and normalisation."""
    from pointrend.inference.export import export_model, export_onnx

    validate(recipe)
    if onnx and not importable("paddle2onnx"):
        raise CommandOptionError(
            '--onnx needs paddle2onnx: pip install paddle2onnx (or pip install -e ".[onnx]")'
        )
    recipe = recipe_for_checkpoint(recipe, checkpoint, explicit)
    network, _ = load_for_inference(recipe, checkpoint)
    output = output or os.path.join(recipe.output_dir, "export")
    paths = export_model(network, output, normalization(recipe.data))
    if onnx:
        paths["onnx"] = export_onnx(output)
    print(f"exported to {output}: " + ", ".join(os.path.basename(p) for p in paths.values()))
    return paths
