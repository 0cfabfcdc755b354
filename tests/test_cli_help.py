"""`<recipe> VERB --help` prints that command's help, its options and the recipe fields."""

import pytest

from pointrend.app.cli import RecipeCommands, run_cli
from recipes.demo_synthetic import RECIPE as DEMO
from recipes.demo_synthetic import DemoCommands

VERBS = {
    "train": ("Train.", ["--resume  (default: None)"]),
    "eval": ("Evaluate on the validation split", ["--checkpoint  (default: None)"]),
    "predict": ("Predict an image or a folder", ["--input  (required)", "--save_points"]),
    "export": ("Export a static inference model", ["--output  (default: None)"]),
    "show": ("Print the recipe with the overrides applied.", []),
    "demo": ("Generate the data (if absent)", ["--fresh  (default: False)"]),
}


@pytest.mark.parametrize("verb", sorted(VERBS))
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_after_a_verb_prints_its_help_and_flags(verb, flag, capsys):
    description, options = VERBS[verb]
    run_cli(DemoCommands(DEMO), argv=[verb, "--model.num_classes=3", flag])
    out = capsys.readouterr().out
    assert out.startswith("usage: ") and f" {verb} [options] [--section.field=value ...]" in out
    assert description in out
    for option in options:
        assert option in out, option
    # The recipe's own values, not the overrides given before --help.
    assert "--model.num_classes=19" in out and "--eval.mode='whole'" in out
    assert "--callbacks.ema.decay=0.9999" in out


def test_every_public_command_has_help(capsys):
    commands = DemoCommands(DEMO)
    verbs = [name for name in dir(commands) if not name.startswith("_")]
    assert sorted(verbs) == sorted(VERBS)
    for verb in verbs:
        run_cli(commands, argv=[verb, "--help"])
        assert "recipe fields" in capsys.readouterr().out, verb


def test_a_field_whose_value_reads_help_is_not_a_help_request(capsys):
    run_cli(RecipeCommands(DEMO), argv=["show", "--name=--help"])
    out = capsys.readouterr().out
    assert "usage:" not in out and "name: '--help'" in out


@pytest.mark.subprocess
def test_help_names_the_command_as_the_user_typed_it():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "recipes.demo_synthetic", "eval", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.startswith("usage: python -m recipes.demo_synthetic eval [options]")
