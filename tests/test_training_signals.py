"""SIGTERM / SIGINT to the whole process group while data-loader workers run: the iteration
finishes, a checkpoint is saved, the run ends with one line and exit status 130, no process
is left behind."""

import json
import os
import select
import signal
import time

import pytest
from tiny_training import kill_group, start

from pointrend.data import generate_synthetic_cityscapes


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("synthetic"))
    generate_synthetic_cityscapes(root, num_train=6, num_val=1, size=(64, 128))
    return root


def read_until(process, marker: str, timeout: float = 120.0) -> str:
    """The subprocess's output up to the first line containing `marker`."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        if not ready:
            continue
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"no {marker!r} in the output:\n{''.join(seen)}")


def group_is_gone(group: int, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_to_the_process_group_with_workers_saves_and_exits(data_root, tmp_path, signum):
    run = start(
        data_root,
        tmp_path,
        "train",
        "--data.num_workers=2",
        "--schedule.iters=5000",
        "--schedule.checkpoint_interval=0",
        new_group=True,
    )
    try:
        before = read_until(run, "iter 3/5000")
        os.killpg(run.pid, signum)
        after, _ = run.communicate(timeout=120)
    finally:
        kill_group(run)
    output = before + after
    assert run.returncode == 130, output
    assert f"{signal.Signals(signum).name}: saving a checkpoint after this iteration" in output
    assert "Traceback" not in output and "DataLoader" not in output, output
    pointer = json.loads((tmp_path / "checkpoints" / "latest.json").read_text())
    assert pointer["iteration"] >= 3
    assert f"interrupted at iteration {pointer['iteration']}; checkpoint saved" in output
    assert group_is_gone(run.pid), "data-loader workers outlived the run"
