"""Checkpoints never run code, and damaged ones are one-line errors naming the file and the way out.

Each crafted file hides a call (os.system, eval, exec, subprocess, open) that would create a
marker file if it ran; each damaged checkpoint must give a CheckpointError that names the file.
"""

import json
import pickle
import random
import shutil

import numpy as np
import paddle
import pytest
from test_safe_loading import gadgets
from test_trainer import make_trainer, tiny_recipe

from pointrend.app.cli import RecipeCommands, run_cli
from pointrend.app.commands import load_for_inference
from pointrend.data import generate_synthetic_cityscapes
from pointrend.train.checkpoint import (
    EMA_FILE,
    INFO_FILE,
    LEGACY_STATE_FILE,
    MODEL_FILE,
    OPTIMIZER_FILE,
    SCALER_FILE,
    STATE_FILE,
    CheckpointError,
    read_info,
    read_trainer_state,
)
from pointrend.train.rng import capture_rng_state, restore_rng_state, seed_everything


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A training output directory with two complete checkpoints (iterations 0 and 1); its
    recipe is built on a small synthetic dataset."""
    root = str(tmp_path_factory.mktemp("synthetic"))
    generate_synthetic_cityscapes(root, num_train=2, num_val=1, size=(64, 128))
    output = tmp_path_factory.mktemp("run")
    recipe = tiny_recipe(root, str(output))
    trainer = make_trainer(recipe)
    trainer.save_checkpoint()
    trainer.iteration = 1
    trainer.save_checkpoint()
    # An EMA and a scaler file too, so that every file a checkpoint may hold is tried.
    for name, source in ((EMA_FILE, MODEL_FILE), (SCALER_FILE, None)):
        target = output / "checkpoints" / "iter_0000001" / name
        if source:
            shutil.copy(output / "checkpoints" / "iter_0000001" / source, target)
        else:
            paddle.save({"scale": np.array([2.0**15], np.float32)}, str(target))
    return recipe, output


@pytest.fixture
def run_copy(saved_run, tmp_path):
    recipe, output = saved_run
    copy = tmp_path / "run"
    shutil.copytree(output, copy)
    return tiny_recipe(recipe.data.root, str(copy)), copy


def crafted_pickle(payload) -> bytes:
    return pickle.dumps({"conv.weight": np.ones(2, np.float32), "conv.bias": payload}, protocol=4)


def legacy_trainer_state(payload) -> bytes:
    return pickle.dumps({"iteration": 1, "rng": [{"paddle": payload}]}, protocol=4)


def resume(recipe, output):
    trainer = make_trainer(recipe)
    return trainer.restore(output)


@pytest.mark.parametrize("file_name", [MODEL_FILE, OPTIMIZER_FILE, SCALER_FILE, LEGACY_STATE_FILE])
@pytest.mark.parametrize("global_name", list(gadgets("m")))
def test_crafted_checkpoint_files_are_refused_on_resume_and_nothing_runs(
    run_copy, file_name, global_name
):
    recipe, output = run_copy
    marker = output / "executed"
    checkpoint = output / "checkpoints" / "iter_0000001"
    payload = gadgets(marker)[global_name]
    if file_name == LEGACY_STATE_FILE:
        (checkpoint / STATE_FILE).unlink()
        (checkpoint / file_name).write_bytes(legacy_trainer_state(payload))
    else:
        (checkpoint / file_name).write_bytes(crafted_pickle(payload))
    with pytest.raises(CheckpointError) as caught:
        resume(recipe, output)
    message = str(caught.value)
    assert message.startswith(f"{checkpoint / file_name}: refused to load '{global_name}'")
    assert message.endswith("nothing from it was run") and "\n" not in message
    assert not marker.exists()


@pytest.mark.parametrize("file_name", [EMA_FILE, MODEL_FILE])
def test_crafted_weights_are_refused_by_eval_and_predict(run_copy, file_name):
    recipe, output = run_copy
    marker = output / "executed"
    checkpoint = output / "checkpoints" / "iter_0000001"
    if file_name == MODEL_FILE:
        (checkpoint / EMA_FILE).unlink()
    (checkpoint / file_name).write_bytes(crafted_pickle(gadgets(marker)["posix.system"]))
    with pytest.raises(CheckpointError, match=r"refused to load 'posix\.system'"):
        load_for_inference(recipe)
    assert not marker.exists()


def test_trainer_state_is_json_and_resume_restores_the_generators(run_copy):
    recipe, output = run_copy
    checkpoint = output / "checkpoints" / "iter_0000001"
    assert json.loads((checkpoint / STATE_FILE).read_text())["iteration"] == 1
    state = read_trainer_state(checkpoint)
    restore_rng_state(state["rng"][0])
    expected = paddle.rand([4]).numpy(), np.random.rand(3), random.random()
    make_trainer(recipe).restore(output)
    actual = paddle.rand([4]).numpy(), np.random.rand(3), random.random()
    for a, b in zip(actual, expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_pickled_trainer_state_of_older_checkpoints_is_read_safely_and_exactly(run_copy):
    recipe, output = run_copy
    checkpoint = output / "checkpoints" / "iter_0000001"
    seed_everything(11)
    paddle.rand([3]), np.random.randn(), random.gauss(0, 1)  # mid-stream, cached gaussians set
    plain = capture_rng_state()
    old_form = {
        "paddle": paddle.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    (checkpoint / STATE_FILE).unlink()
    (checkpoint / LEGACY_STATE_FILE).write_bytes(pickle.dumps({"iteration": 1, "rng": [old_form]}))
    assert read_trainer_state(checkpoint) == {"iteration": 1, "rng": [plain]}
    expected = paddle.rand([4]).numpy(), np.random.randn(3), random.gauss(0, 1)
    make_trainer(recipe).restore(output)
    actual = paddle.rand([4]).numpy(), np.random.randn(3), random.gauss(0, 1)
    for a, b in zip(actual, expected, strict=True):
        np.testing.assert_array_equal(a, b)


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGES = {
    "zero-byte model": (
        lambda c, o: c.joinpath(MODEL_FILE).write_bytes(b""),
        (
            r"iter_0000001/model\.pdparams is empty \(0 bytes\): use another "
            r"checkpoint, e\.g\. .*iter_0000000, or delete .*iter_0000001$"
        ),
    ),
    "truncated model": (
        lambda c, o: truncate(c / MODEL_FILE),
        (
            r"iter_0000001/model\.pdparams: not a readable pickle, the file may be "
            r"truncated or corrupt .*: use another checkpoint"
        ),
    ),
    "truncated optimizer": (
        lambda c, o: truncate(c / OPTIMIZER_FILE),
        r"optimizer\.pdopt: not a readable pickle.*use another checkpoint",
    ),
    "truncated state": (
        lambda c, o: truncate(c / STATE_FILE),
        r"trainer_state\.json is truncated or damaged .*use another checkpoint",
    ),
    "empty state": (
        lambda c, o: c.joinpath(STATE_FILE).write_text(""),
        r"trainer_state\.json is empty: use another checkpoint",
    ),
    "state without generators": (
        lambda c, o: c.joinpath(STATE_FILE).write_text('{"iteration": 1}'),
        r"trainer state of .*iter_0000001 is damaged: it holds no random",
    ),
    "damaged generator state": (
        lambda c, o: c.joinpath(STATE_FILE).write_text(
            json.dumps(
                {"iteration": 1, "rng": [{**capture_rng_state(), "paddle": [{"engine": "1 2"}]}]}
            )
        ),
        r"trainer state of .*iter_0000001 is damaged: .*mt19937_64",
    ),
    "missing model": (
        lambda c, o: c.joinpath(MODEL_FILE).unlink(),
        r"iter_0000001/model\.pdparams is missing: use another checkpoint",
    ),
    "missing optimizer": (
        lambda c, o: c.joinpath(OPTIMIZER_FILE).unlink(),
        r"optimizer\.pdopt is missing: use another checkpoint",
    ),
    "missing state": (
        lambda c, o: c.joinpath(STATE_FILE).unlink(),
        r"trainer_state\.json is missing: use another checkpoint",
    ),
    "empty latest.json": (
        lambda c, o: (o / "checkpoints" / "latest.json").write_text(""),
        (
            r"checkpoints/latest\.json is empty: delete it, or name a checkpoint "
            r"directory directly \(the newest complete one here is .*iter_0000001\)"
        ),
    ),
    "keyless latest.json": (
        lambda c, o: (o / "checkpoints" / "latest.json").write_text("{}"),
        r"latest\.json names no checkpoint",
    ),
    "latest.json to nowhere": (
        lambda c, o: shutil.rmtree(c),
        (
            r"latest\.json points at .*iter_0000001, which is not a complete "
            r"checkpoint: .*newest complete one here is .*iter_0000000"
        ),
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_checkpoints_are_one_line_errors_naming_the_file(run_copy, damage):
    recipe, output = run_copy
    spoil, expected = DAMAGES[damage]
    spoil(output / "checkpoints" / "iter_0000001", output)
    with pytest.raises(CheckpointError, match=expected) as caught:
        resume(recipe, output)
    assert "\n" not in str(caught.value)


def test_incomplete_or_absent_checkpoint_paths_say_so(run_copy):
    recipe, output = run_copy
    checkpoint = output / "checkpoints" / "iter_0000001"
    (checkpoint / INFO_FILE).write_text("{")
    with pytest.raises(CheckpointError, match=r"checkpoint\.json is damaged .*use another"):
        read_info(checkpoint)
    (checkpoint / INFO_FILE).unlink()
    with pytest.raises(
        CheckpointError,
        match=r"iter_0000001 is an incomplete checkpoint .*"
        r"e\.g\. .*iter_0000000",
    ):
        resume(recipe, checkpoint)
    with pytest.raises(CheckpointError, match=r"nowhere does not exist"):
        resume(recipe, output / "nowhere")


def test_command_line_reports_a_damaged_checkpoint_in_one_line(run_copy, capsys):
    recipe, output = run_copy
    (output / "checkpoints" / "iter_0000001" / EMA_FILE).write_bytes(b"")
    with pytest.raises(SystemExit) as stop:
        run_cli(RecipeCommands(recipe), ["eval"])
    assert stop.value.code == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and error.count("\n") == 0
    assert "ema.pdparams is empty (0 bytes)" in error
