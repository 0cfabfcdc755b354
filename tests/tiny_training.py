"""A tiny training run through the recipe command line, for tests that signal or kill it.

    python tests/tiny_training.py DATA_ROOT OUTPUT_DIR train [--resume] [--field=value ...]

The point head draws random training points and the crops are randomly scaled and flipped, so
an exact resume has every random state to restore.
"""

import os
import signal
import subprocess
import sys
from dataclasses import replace

from pointrend.app.cli import RecipeCommands, run_cli
from pointrend.config.recipe import (
    CallbacksConfig,
    DataConfig,
    EmaConfig,
    EvalConfig,
    ModelConfig,
    Recipe,
    ScheduleConfig,
    TensorBoardConfig,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# The smallest network the recipe tests train: ResNet-18 at base width 8, narrow heads.
TINY_MODEL = ModelConfig(
    backbone_depth=18,
    backbone_base_channels=8,
    fpn_channels=16,
    head_channels=8,
    point_head_fc_channels=16,
    train_num_points=64,
    subdivision_num_points=256,
)


def tiny_recipe(root: str, output_dir: str) -> Recipe:
    return Recipe(
        name="tiny",
        output_dir=output_dir,
        device="cpu",
        threads=1,
        model=TINY_MODEL,
        data=DataConfig(
            root=root, batch_size=2, num_workers=0, crop_size=(64, 128), scale_range=(0.75, 1.25)
        ),
        schedule=ScheduleConfig(
            iters=8, warmup_iters=2, checkpoint_interval=1, eval_interval=0, log_interval=1
        ),
        callbacks=CallbacksConfig(
            evaluation=False,
            ema=EmaConfig(enabled=True, decay=0.9, warmup_iters=2),
            tensorboard=TensorBoardConfig(enabled=False),
        ),
        eval=EvalConfig(num_workers=0),
    )


def two_iteration_recipe(root: str, output_dir: str, callbacks: CallbacksConfig) -> Recipe:
    """Two updates of TINY_MODEL on unscaled crops, checkpointed at the end only: a trained
    checkpoint for the tests of the commands that read one."""
    return Recipe(
        name="tiny",
        output_dir=output_dir,
        device="cpu",
        model=replace(TINY_MODEL, subdivision_num_points=512),
        data=DataConfig(
            root=root, batch_size=2, num_workers=0, crop_size=(64, 128), scale_range=None
        ),
        schedule=ScheduleConfig(
            iters=2, warmup_iters=1, eval_interval=0, checkpoint_interval=0, log_interval=1
        ),
        callbacks=callbacks,
        eval=EvalConfig(num_workers=0),
    )


def start(root, output_dir, *argv: str, new_group: bool = False) -> subprocess.Popen:
    """This file as a subprocess (own process group with `new_group`), stdout+stderr as text."""
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = [sys.executable, os.path.abspath(__file__), str(root), str(output_dir), *argv]
    return subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=new_group,
    )


def kill_group(process: subprocess.Popen) -> None:
    """Test clean-up: whatever is left of the process group started with `new_group`."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


if __name__ == "__main__":
    data_root, output, *arguments = sys.argv[1:]
    run_cli(RecipeCommands(tiny_recipe(data_root, output)), arguments)
