"""kill -9 in the middle of training, then --resume: the same final weights as an uninterrupted
run."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import paddle
import pytest

from pointrend.data import generate_synthetic_cityscapes

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Point head on (random training points), random scale + flip, EMA on: everything random must
# come back from the checkpoint. The pause after each iteration gives the test time to kill
# the run between two checkpoints; it does not touch the weights.
TRAINING_SCRIPT = """
import sys, time
from pointrend.app.build import build_trainer
from pointrend.train.callbacks import TrainerCallback
from pointrend.app.runtime import setup_runtime
from pointrend.config.recipe import *

root, output_dir, resume = sys.argv[1], sys.argv[2], sys.argv[3] == "resume"


class Pause(TrainerCallback):
    def on_iteration_end(self, iteration, logs):
        time.sleep(0.3)


recipe = Recipe(
    name="tiny", output_dir=output_dir, device="cpu", threads=1,
    model=ModelConfig(backbone_depth=18, backbone_base_channels=8, fpn_channels=16, head_channels=8,
                      point_head_fc_channels=16, train_num_points=64, subdivision_num_points=256),
    data=DataConfig(root=root, batch_size=2, num_workers=0, crop_size=(64, 128),
                    scale_range=(0.75, 1.25)),
    schedule=ScheduleConfig(iters=8, warmup_iters=2, checkpoint_interval=3, eval_interval=0,
                            log_interval=4),
    callbacks=CallbacksConfig(evaluation=False,
                              ema=EmaConfig(enabled=True, decay=0.9, warmup_iters=2),
                              tensorboard=TensorBoardConfig(enabled=False)))
trainer = build_trainer(recipe, setup_runtime(recipe.device, recipe.seed, recipe.threads))
trainer.callbacks.append(Pause())
trainer.fit(resume=output_dir if resume else None)
"""


def start(script, root, output_dir, mode):
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen(
        [sys.executable, str(script), root, str(output_dir), mode],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def latest_iteration(output_dir):
    pointer = output_dir / "checkpoints" / "latest.json"
    return json.loads(pointer.read_text())["iteration"] if pointer.is_file() else 0


def final_state(output_dir, file_name):
    return paddle.load(str(output_dir / "checkpoints" / "iter_0000008" / file_name))


@pytest.mark.subprocess
def test_kill_then_resume_ends_with_the_weights_of_an_uninterrupted_run(tmp_path):
    root = str(tmp_path / "data")
    generate_synthetic_cityscapes(root, num_train=6, num_val=1, size=(64, 128))
    script = tmp_path / "train_tiny.py"
    script.write_text(TRAINING_SCRIPT)

    uninterrupted = start(script, root, tmp_path / "a", "fresh")
    interrupted_dir = tmp_path / "b"
    victim = start(script, root, interrupted_dir, "fresh")
    deadline = time.monotonic() + 240
    while (
        latest_iteration(interrupted_dir) < 3
        and victim.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    killed_at = latest_iteration(interrupted_dir)
    assert 3 <= killed_at < 8, (
        f"the run was not interrupted mid-schedule (latest checkpoint: {killed_at})"
    )

    resumed = start(script, root, interrupted_dir, "resume")
    for process in (uninterrupted, resumed):
        output, _ = process.communicate(timeout=240)
        assert process.returncode == 0, output
    assert f"resumed from {interrupted_dir / 'checkpoints' / f'iter_{killed_at:07d}'}" in output

    for file_name in ("model.pdparams", "ema.pdparams"):
        expected, actual = (
            final_state(tmp_path / "a", file_name),
            final_state(interrupted_dir, file_name),
        )
        assert expected.keys() == actual.keys()
        for name in expected:
            np.testing.assert_array_equal(
                actual[name].numpy(), expected[name].numpy(), err_msg=f"{file_name}:{name}"
            )
