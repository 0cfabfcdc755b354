"""The network an eval or predict command runs: the Paddle network itself (engine "dygraph")
or its cached export run by Paddle Inference or ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import paddle

from pointrend.app.build import normalization
from pointrend.app.errors import CommandOptionError, as_flags
from pointrend.app.runtime import select_device
from pointrend.config.recipe import Recipe, recipe_to_dict
from pointrend.inference.engines import ExportedNetwork, choose_engine
from pointrend.train.checkpoint import EMA_FILE, MODEL_FILE
from pointrend.utils.distributed import is_main_process
from pointrend.utils.system import cpu_threads_per_process

# Inside the checkpoint folder: the cache goes when the checkpoint is pruned.
CACHE_FOLDER = "inference_cache"


def engine_for(recipe: Recipe, requested: str) -> str:
    """The engine `requested` ("auto" or one of `pointrend.inference.engines.ENGINES`) names on
    the recipe's device; a clear error before any work when it cannot run here."""
    try:
        return choose_engine(requested, select_device(recipe.device))
    except ValueError as error:
        raise CommandOptionError(as_flags(str(error), ["engine"])) from None


def network_for_engine(recipe: Recipe, network: paddle.nn.Layer, checkpoint: Path, engine: str):
    """`network` (in eval mode, loaded from `checkpoint`) as `engine` (see `engine_for`) runs it
    on the current device."""
    device = paddle.get_device()
    if is_main_process():
        print(f"inference engine: {engine}")
    if engine == "dygraph":
        return network
    weights = [
        str(checkpoint / name) for name in (EMA_FILE, MODEL_FILE) if (checkpoint / name).is_file()
    ]
    exported = ExportedNetwork(
        network,
        engine,
        str(checkpoint / CACHE_FOLDER),
        weights,
        settings={"model": recipe_to_dict(recipe)["model"]},
        normalization=normalization(recipe.data),
        device=device,
        num_threads=cpu_threads_per_process(recipe.threads),
    )
    # Export and convert now, not inside the first batch of a progress bar (its rate and ETA).
    exported.predictor()
    return exported
