"""Chaos: kill -9 a training run at random moments, resume it each time, and end with exactly
the weights of an uninterrupted run; "latest" must never point at anything but a complete
checkpoint. Kill moments are spread over the training part of each run (random seed printed)."""

import json
import os
import random
import select
import signal
import time

import numpy as np
import paddle
import pytest
from test_training_signals import read_until
from tiny_training import kill_group, start

from pointrend.data import generate_synthetic_cityscapes
from pointrend.train.checkpoint import INFO_FILE, MODEL_FILE


def latest_is_broken(output_dir) -> bool:
    pointer = output_dir / "checkpoints" / "latest.json"
    if not pointer.exists():
        return False
    try:
        target = output_dir / "checkpoints" / json.loads(pointer.read_text())["checkpoint"]
    except (ValueError, KeyError):
        return True
    return not ((target / INFO_FILE).is_file() and (target / MODEL_FILE).is_file())


def latest_iteration(output_dir) -> int:
    """The iteration "latest" (or, without it, the newest complete checkpoint) is at."""
    checkpoints = sorted((output_dir / "checkpoints").glob("iter_*/" + INFO_FILE))
    return int(checkpoints[-1].parent.name.split("_")[1]) if checkpoints else 0


def run_to_the_end(root, output_dir, *argv) -> tuple[float | None, float]:
    """Run (resuming when asked) to completion; (seconds from the start of the process to its
    first iteration's log line, None without one; seconds its iterations took)."""
    began = time.monotonic()
    deadline = began + 600
    run = start(root, output_dir, "train", *argv, new_group=True)
    lines, startup = [], None
    try:
        while True:
            ready, _, _ = select.select([run.stdout], [], [], 1.0)
            assert time.monotonic() < deadline, "the run did not end:\n" + "".join(lines)
            if not ready:
                continue
            line = run.stdout.readline()
            if not line:
                break
            if startup is None and line.startswith("iter "):
                startup = time.monotonic() - began
            lines.append(line)
        run.wait(timeout=60)
    finally:
        kill_group(run)
    output = "".join(lines)
    assert run.returncode == 0, output
    return startup, training_seconds(output)


def training_seconds(output: str) -> float:
    """Iterations / (iterations per second) summed over the log lines."""
    rates = [
        float(line.split(" it/s")[0].split()[-1])
        for line in output.splitlines()
        if line.startswith("iter ") and " it/s" in line
    ]
    return sum(1.0 / rate for rate in rates)


def final_weights(output_dir, iters: int) -> dict:
    checkpoint = output_dir / "checkpoints" / f"iter_{iters:07d}"
    return {name: paddle.load(str(checkpoint / name)) for name in (MODEL_FILE, "ema.pdparams")}


def chaos(tmp_path, kills: int, seed: int) -> None:
    iters = 2 * kills + 6
    root = str(tmp_path / "data")
    generate_synthetic_cityscapes(root, num_train=6, num_val=1, size=(64, 128))
    steady = f"--schedule.iters={iters}"
    startup_time, training_time = run_to_the_end(root, tmp_path / "reference", steady)
    assert startup_time is not None
    iteration_time = training_time / iters
    rng = random.Random(seed)
    victim_dir = tmp_path / "victim"
    broken, survived = 0, 0
    while survived < kills and latest_iteration(victim_dir) < iters - 2:
        done = latest_iteration(victim_dir)
        run = start(
            root, victim_dir, "train", steady, *(["--resume"] if done else []), new_group=True
        )
        try:
            if rng.random() < 0.2:
                # Starting up (lock, restore): within the reference run's start-up time, which on
                # a fast machine is shorter than the whole run of 3 s that was used here before.
                time.sleep(rng.uniform(0.0, startup_time))
            else:
                # From the middle of an iteration to the middle of a checkpoint write.
                read_until(run, f"iter {rng.randint(done + 1, min(done + 2, iters - 2))}/", 300)
                time.sleep(rng.uniform(0.0, iteration_time))
            os.killpg(run.pid, signal.SIGKILL)
            run.communicate(timeout=60)
        finally:
            kill_group(run)
        broken += latest_is_broken(victim_dir)
        survived += run.returncode == -signal.SIGKILL
    # Killed before its first checkpoint every time: a fresh start is what a user would do.
    run_to_the_end(
        root, victim_dir, steady, *(["--resume"] if latest_iteration(victim_dir) else [])
    )
    print(f"chaos (seed {seed}): {survived} kills survived, {broken} broken 'latest'")
    assert survived >= 1, "the runs ended before they could be killed"
    assert broken == 0
    expected = final_weights(tmp_path / "reference", iters)
    actual = final_weights(victim_dir, iters)
    for file_name in expected:
        assert expected[file_name].keys() == actual[file_name].keys()
        for name in expected[file_name]:
            np.testing.assert_array_equal(
                actual[file_name][name].numpy(),
                expected[file_name][name].numpy(),
                err_msg=f"{file_name}:{name}",
            )


def test_a_few_kills_then_resume_end_with_the_uninterrupted_weights(tmp_path):
    chaos(tmp_path, kills=2, seed=random.randrange(10**6))


@pytest.mark.slow
def test_many_kills_then_resume_end_with_the_uninterrupted_weights(tmp_path):
    chaos(tmp_path, kills=int(os.environ.get("CHAOS_KILLS", "25")), seed=random.randrange(10**6))
