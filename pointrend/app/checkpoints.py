"""A checkpoint directory as a ready network, and the recipe a converted checkpoint implies.

Any checkpoint directory records the recipe its weights belong to in checkpoint.json: a training
checkpoint the whole recipe, a converted one (`pointrend.convert`) the model settings and the
image normalisation of its source. `load_checkpoint` needs nothing else; the recipe commands take
a converted checkpoint's settings over their own (`recipe_for_checkpoint`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

import paddle

from pointrend.app.build import build_network
from pointrend.config.recipe import ModelConfig, Recipe, RecipeError, apply_overrides
from pointrend.inference.normalization import FIELDS as NORMALIZATION_FIELDS
from pointrend.inference.normalization import Normalization
from pointrend.train.checkpoint import (
    EMA_FILE,
    INFO_FILE,
    MODEL_FILE,
    CheckpointError,
    load_weights,
    read_info,
    read_state_dict,
    resolve_checkpoint,
)
from pointrend.train.converted_checkpoint import converted_from


def recorded_recipe(checkpoint: Path) -> dict[str, dict]:
    """{"model": ..., "data": ...} of a checkpoint's checkpoint.json, or CheckpointError."""
    try:
        recipe = read_info(checkpoint).get("recipe")
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{checkpoint / INFO_FILE} cannot be read: {error}") from error
    sections = recipe if isinstance(recipe, dict) else {}
    if not all(isinstance(sections.get(name), dict) for name in ("model", "data")):
        raise CheckpointError(
            f"{checkpoint / INFO_FILE} records no recipe (model and data settings), so the "
            "network it belongs to is unknown; use the recipe it was trained with"
        )
    return sections


def recorded_settings(checkpoint: Path) -> dict[str, Any]:
    """{"model.<field>": value, "data.<normalisation field>": value} a checkpoint records."""
    recipe = recorded_recipe(checkpoint)
    fields = {field.name for field in dataclasses.fields(ModelConfig)}
    unknown = sorted(set(recipe["model"]) - fields)
    if unknown:
        raise CheckpointError(
            f"{checkpoint / INFO_FILE} records model settings this version does not know "
            f"({', '.join(unknown)}); it was written by a newer version of this package"
        )
    settings = {f"model.{name}": value for name, value in recipe["model"].items()}
    missing = [name for name in NORMALIZATION_FIELDS if name not in recipe["data"]]
    if missing:
        raise CheckpointError(
            f"{checkpoint / INFO_FILE}: the recorded image normalisation lacks {', '.join(missing)}"
        )
    settings.update({f"data.{name}": recipe["data"][name] for name in NORMALIZATION_FIELDS})
    return settings


def setting_of(recipe: Recipe, path: str) -> Any:
    section, name = path.split(".")
    return getattr(getattr(recipe, section), name)


def recipe_for_checkpoint(
    recipe: Recipe, checkpoint: str | os.PathLike | None, explicit: Collection[str] = ()
) -> Recipe:
    """`recipe` with a converted checkpoint's model settings and image normalisation where they
    differ, except the fields named in `explicit` ("model.subdivision_steps", ...: set on the
    command line). Prints one line naming what it took. A training checkpoint, or none, leaves
    the recipe as it is (its weights are checked against the recipe's model when loaded)."""
    if checkpoint is None:
        return recipe
    path = resolve_checkpoint(checkpoint, prefer="best")
    record = converted_from(read_info(path))
    if record is None:
        return recipe
    settings = recorded_settings(path)
    try:
        recorded = apply_overrides(recipe, settings)
    except RecipeError as error:
        raise CheckpointError(
            f"{path / INFO_FILE}: a recorded setting is invalid: {error}"
        ) from error
    taken = {
        name: setting_of(recorded, name)
        for name in settings
        if name not in explicit and setting_of(recorded, name) != setting_of(recipe, name)
    }
    if not taken:
        return recipe
    changes = ", ".join(
        f"{name}={value!r} (recipe {setting_of(recipe, name)!r})" for name, value in taken.items()
    )
    print(
        f"{path} holds {record.get('source', 'another codebase')}'s {record.get('file', 'model')}: "
        f"using its settings {changes}"
    )
    return apply_overrides(recipe, taken)


def load_checkpoint(
    path: str | os.PathLike, prefer: str = "best", **model_settings: Any
) -> paddle.nn.Layer:
    """The network of any checkpoint directory (trained here or converted), in eval mode, with
    its evaluation weights (EMA when saved): normalised images [N, 3, H, W] -> logits
    [N, K, H, W]. Its `normalization` attribute (a `Normalization`) turns an OpenCV BGR image
    into that input. `path` may also be a training output directory (`prefer` "best" or
    "latest" picks the checkpoint); `model_settings` override recorded inference settings such
    as subdivision_num_points=512."""
    checkpoint = resolve_checkpoint(path, prefer=prefer)
    settings = recorded_settings(checkpoint)
    overrides = {f"model.{name}": value for name, value in model_settings.items()}
    recipe = apply_overrides(
        Recipe(name="checkpoint", output_dir=str(checkpoint)), {**settings, **overrides}
    )
    normalization = Normalization.from_settings(
        {name: setting_of(recipe, f"data.{name}") for name in NORMALIZATION_FIELDS},
        str(checkpoint / INFO_FILE),
    )
    network = build_network(recipe.model, load_pretrained=False)
    state = read_state_dict(checkpoint, EMA_FILE)
    if state is None:
        state = read_state_dict(checkpoint, MODEL_FILE)
    if state is None:
        raise CheckpointError(f"{checkpoint} holds neither {EMA_FILE} nor {MODEL_FILE}")
    load_weights(network, checkpoint, state)
    network.eval()
    network.normalization = normalization
    return network
