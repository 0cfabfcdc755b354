"""One training run per output folder: a second one is refused naming the holder, the lock goes
with the run (also on errors), a dead run's lock is taken over; --resume names recipe changes."""

import json
import os
import socket
import subprocess
import sys
from dataclasses import replace

import pytest
from test_training_signals import data_root, read_until  # noqa: F401 (fixture)
from tiny_training import kill_group, start

from pointrend.app.errors import describe
from pointrend.train.run_lock import LOCK_FILE, RunLock, RunLockedError


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write_lock(folder, **holder) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LOCK_FILE).write_text(
        json.dumps({"started": "earlier", "command": "train", **holder})
    )


def test_the_lock_names_its_holder_and_refuses_a_second_run(tmp_path):
    with RunLock(tmp_path, "train --x=1"):
        holder = json.loads((tmp_path / LOCK_FILE).read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        assert holder["command"] == "train --x=1" and holder["started"]
        with pytest.raises(
            RunLockedError, match=f"in use by another training run \\(pid {os.getpid()} on "
        ) as refused:
            RunLock(tmp_path).acquire()
    assert "stop it, or choose another output_dir. If" in str(refused.value)
    assert "stop it, or choose another --output_dir. If" in describe(refused.value)
    assert not (tmp_path / LOCK_FILE).exists()


def test_the_lock_is_released_when_the_run_fails(tmp_path):
    with pytest.raises(ValueError, match="the run failed"), RunLock(tmp_path):
        raise ValueError("the run failed")
    assert list(tmp_path.iterdir()) == []


def test_a_dead_runs_lock_is_taken_over_with_a_note(tmp_path, capsys):
    write_lock(tmp_path, pid=dead_pid(), host=socket.gethostname())
    with RunLock(tmp_path):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert "taking over the stale lock of a run that is no longer alive" in capsys.readouterr().out


def test_a_reused_pid_is_not_mistaken_for_the_holder(tmp_path, capsys):
    write_lock(tmp_path, pid=1, host=socket.gethostname(), process_start="-1")
    with RunLock(tmp_path):
        pass
    assert "taking over the stale lock" in capsys.readouterr().out


def test_a_lock_of_another_host_is_never_taken_over(tmp_path):
    write_lock(tmp_path, pid=dead_pid(), host="elsewhere")
    with pytest.raises(RunLockedError, match=f"on elsewhere.*delete {tmp_path / LOCK_FILE}"):
        RunLock(tmp_path).acquire()


def test_an_unreadable_lock_is_taken_over(tmp_path, capsys):
    (tmp_path / LOCK_FILE).write_text("")
    with RunLock(tmp_path):
        pass
    assert "unreadable lock" in capsys.readouterr().out


def test_a_second_training_in_the_same_folder_is_refused(data_root, tmp_path):  # noqa: F811
    first = start(data_root, tmp_path, "train", "--schedule.iters=5000", new_group=True)
    try:
        read_until(first, "iter 1/5000")
        second = start(data_root, tmp_path, "train")
        output, _ = second.communicate(timeout=120)
        assert second.returncode == 1, output
        assert f"is in use by another training run (pid {first.pid} on" in output
        assert "choose another --output_dir" in output
        assert "Traceback" not in output
        assert first.poll() is None, "the first run must go on"
        first.terminate()
        first.communicate(timeout=120)
    finally:
        kill_group(first)
    assert first.returncode == 130
    assert not (tmp_path / LOCK_FILE).exists(), "an interrupted run must release its lock"


def test_resuming_with_a_changed_recipe_names_the_changes(data_root, tmp_path, capsys):  # noqa: F811
    from test_trainer import make_trainer, tiny_recipe

    from pointrend.train.callbacks import PeriodicCheckpoint

    recipe = tiny_recipe(data_root, str(tmp_path))
    make_trainer(
        replace(recipe, schedule=replace(recipe.schedule, iters=2)),
        callbacks=[PeriodicCheckpoint(2)],
    ).fit()
    changed = replace(recipe, optim=replace(recipe.optim, lr=0.02))
    make_trainer(changed).restore(str(tmp_path))
    out = capsys.readouterr().out
    assert "note: the recipe differs from the one iter_0000002 was trained with" in out
    assert "optim.lr=0.01 (here 0.02)" in out and "schedule.iters=2 (here 4)" in out
