"""Two CPU processes (gloo) under paddle.distributed.launch: same weights, one checkpoint writer."""

import os
import subprocess
import sys

import numpy as np
import pytest

from pointrend.data import generate_synthetic_cityscapes

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Frozen BN in the backbone and GroupNorm in the heads: without SyncBN (no CPU kernel), BN
# running statistics would legitimately differ per rank; every other weight must not.
TRAINING_SCRIPT = """
import sys
import numpy as np
from pointrend.app.build import build_trainer
from pointrend.app.runtime import setup_runtime
from pointrend.utils.distributed import rank
from pointrend.config.recipe import *

root, output_dir = sys.argv[1], sys.argv[2]
recipe = Recipe(
    name="tiny", output_dir=output_dir, device="cpu", threads=1,
    model=ModelConfig(backbone_depth=18, backbone_base_channels=8, fpn_channels=16, head_channels=8,
                      norm="frozen_bn", head_norm="gn", point_head_fc_channels=16,
                      train_num_points=64, subdivision_num_points=256),
    data=DataConfig(root=root, batch_size=4, num_workers=0, crop_size=(64, 128),
                    scale_range=(0.75, 1.25)),
    schedule=ScheduleConfig(iters=4, warmup_iters=1, checkpoint_interval=2, eval_interval=0,
                            log_interval=2),
    callbacks=CallbacksConfig(evaluation=True, tensorboard=TensorBoardConfig(enabled=False)),
    eval=EvalConfig(num_workers=0))
trainer = build_trainer(recipe, setup_runtime(recipe.device, recipe.seed, recipe.threads))
trainer.fit()
weights = {k: v.numpy() for k, v in trainer.network.state_dict().items()}
np.savez(f"{output_dir}/rank{rank()}.npz", **weights)
print(f"rank {rank()} per-device batch {trainer.per_device_batch_size}")
"""


@pytest.mark.subprocess
def test_two_cpu_processes_train_identical_weights_and_rank0_alone_saves(tmp_path):
    root = str(tmp_path / "data")
    generate_synthetic_cityscapes(root, num_train=8, num_val=3, size=(64, 128))
    script = tmp_path / "train_tiny.py"
    script.write_text(TRAINING_SCRIPT)
    output_dir, log_dir = tmp_path / "out", tmp_path / "log"
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    launch = subprocess.run(
        [
            sys.executable,
            "-m",
            "paddle.distributed.launch",
            "--nproc_per_node",
            "2",
            "--log_dir",
            str(log_dir),
            str(script),
            root,
            str(output_dir),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    logs = [(log_dir / f"workerlog.{r}").read_text() for r in (0, 1)]
    assert launch.returncode == 0, launch.stdout[-3000:] + "\n".join(log[-3000:] for log in logs)

    assert "rank 0 per-device batch 2" in logs[0] and "rank 1 per-device batch 2" in logs[1]
    rank0, rank1 = np.load(output_dir / "rank0.npz"), np.load(output_dir / "rank1.npz")
    assert rank0.files == rank1.files
    for name in rank0.files:
        np.testing.assert_array_equal(rank0[name], rank1[name], err_msg=name)

    assert logs[0].count("checkpoint saved") == 2 and "checkpoint saved" not in logs[1]
    checkpoints = sorted(p.name for p in (output_dir / "checkpoints").iterdir())
    assert checkpoints == ["best.json", "iter_0000002", "iter_0000004", "latest.json"]
    assert "mIoU" in logs[0] and "mIoU" not in logs[1]
