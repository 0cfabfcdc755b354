"""The command line of a recipe file: `python -m recipes.<name> <command> [--section.field=value
...]`."""

from __future__ import annotations

import inspect
import os
import sys
from typing import Any

from pointrend.app.commands import evaluate, export, predict, train
from pointrend.app.errors import USER_ERRORS, describe, exit_code
from pointrend.config.recipe import Recipe, apply_overrides, format_recipe, valid_fields


class RecipeCommands:
    """The commands `python -m recipes.<name> <command> [--section.field=value ...]` offers.

    Recipe files may subclass it to add commands (the demo adds `demo`). With
    classes_from_dataset, model.num_classes and data.ignore_index come from the dataset's
    dataset.json unless the command line sets them (the template for your own data).
    """

    def __init__(self, recipe: Recipe, classes_from_dataset: bool = False) -> None:
        self._recipe = recipe
        self._classes_from_dataset = classes_from_dataset

    def _resolved(self, overrides: dict[str, Any]) -> Recipe:
        recipe = apply_overrides(self._recipe, overrides)
        if self._classes_from_dataset:
            from pointrend.app.build import with_dataset_classes

            recipe = with_dataset_classes(recipe, overrides)
        return recipe

    def show(self, **overrides: Any) -> None:
        """Print the recipe with the overrides applied."""
        print(format_recipe(self._resolved(overrides)))

    def train(self, resume: Any = None, **overrides: Any) -> None:
        """Train. --resume continues from the latest checkpoint in output_dir, --resume=PATH from
        PATH."""
        train(self._resolved(overrides), resume=resume)

    def eval(self, checkpoint: str | None = None, engine: str = "auto", **overrides: Any) -> None:
        """Evaluate on the validation split (default checkpoint: best, else latest, in output_dir).
        --engine: auto (fastest on this device), dygraph, paddle-inference or onnxruntime."""
        evaluate(
            self._resolved(overrides), checkpoint=checkpoint, explicit=overrides, engine=engine
        )

    def predict(
        self,
        input: str,
        output: str | None = None,
        checkpoint: str | None = None,
        label_format: str = "trainid",
        save_points: bool = False,
        engine: str = "auto",
        **overrides: Any,
    ) -> None:
        """Predict an image or a folder of images into OUTPUT (default: output_dir/predictions).
        --engine: auto (fastest on this device), dygraph, paddle-inference or onnxruntime."""
        predict(
            self._resolved(overrides),
            input,
            output=output,
            checkpoint=checkpoint,
            label_format=label_format,
            save_points=save_points,
            explicit=overrides,
            engine=engine,
        )

    def export(
        self,
        output: str | None = None,
        checkpoint: str | None = None,
        onnx: bool = False,
        **overrides: Any,
    ) -> None:
        """Export a static inference model (default: output_dir/export); --onnx also writes
        model.onnx beside it (paddle2onnx needed here, not where it runs)."""
        export(
            self._resolved(overrides),
            output=output,
            checkpoint=checkpoint,
            explicit=overrides,
            onnx=onnx,
        )


HELP_FLAGS = ("--help", "-h")


def _program_name() -> str:
    """How the user started this program: `python -m recipes.X` for a module, else the script."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        return f"python -m {spec.name}"
    return os.path.basename(sys.argv[0]) or "recipe"


def command_help(commands: RecipeCommands, verb: str) -> str:
    """What `<recipe> VERB --help` prints: the command's description, its own options and every
    recipe field it accepts as an override, with the recipe's value."""
    method = getattr(commands, verb)
    program = _program_name()
    lines = [
        f"usage: {program} {verb} [options] [--section.field=value ...]",
        "",
        inspect.getdoc(method) or "",
        "",
    ]
    options = [
        p for p in inspect.signature(method).parameters.values() if p.kind is not p.VAR_KEYWORD
    ]
    if options:
        lines.append("options:")
        for option in options:
            default = (
                "required" if option.default is option.empty else f"default: {option.default!r}"
            )
            lines.append(f"  --{option.name}  ({default})")
        lines.append("")
    lines.append("recipe fields (`show` prints the recipe with the overrides applied):")
    recipe = commands._recipe
    for path in valid_fields(recipe):
        value = recipe
        for part in path.split("."):
            value = getattr(value, part)
        lines.append(f"  --{path}={value!r}")
    return "\n".join(lines)


def _help_request(commands: RecipeCommands, argv: list[str]) -> str | None:
    """The verb whose help `argv` asks for (`VERB ... --help`), else None."""
    if not argv or argv[0].startswith("-") or argv[0].startswith("_"):
        return None
    if not callable(getattr(commands, argv[0], None)):
        return None
    return argv[0] if any(arg in HELP_FLAGS for arg in argv[1:]) else None


def run_cli(commands: RecipeCommands, argv: list[str] | None = None) -> None:
    """fire's command line over `commands`; `VERB --help` prints that command's help; known user
    errors end with one line, not a traceback."""
    import fire

    argv = sys.argv[1:] if argv is None else list(argv)
    verb = _help_request(commands, argv)
    if verb is not None:
        print(command_help(commands, verb))
        return
    try:
        fire.Fire(commands, command=argv)
    except USER_ERRORS as error:
        print(describe(error), file=sys.stderr)
        sys.exit(exit_code(error))
