"""A run killed around a checkpoint write stays resumable: without a pointer the newest complete
checkpoint is used; a directory is replaced in one step; an interrupt right after a periodic
save does not rewrite it."""

import json
import os
import signal

import paddle
import pytest

from pointrend.train.checkpoint import (
    INFO_FILE,
    LATEST,
    CheckpointError,
    CheckpointStore,
    resolve_checkpoint,
)
from pointrend.utils.atomic_dirs import replace_directory


def store_with(tmp_path, iterations):
    store = CheckpointStore(tmp_path / "checkpoints", keep_last=5)
    weights = {"model.pdparams": {"w": paddle.ones([2])}}
    for iteration in iterations:
        store.save(iteration, weights, {"iteration": iteration}, {})
    return store


def test_a_complete_checkpoint_without_a_pointer_is_found(tmp_path, capsys):
    store = store_with(tmp_path, [1])
    os.remove(store.directory / LATEST)  # killed between the rename and the pointer write
    assert resolve_checkpoint(tmp_path).name == "iter_0000001"
    assert "latest.json is missing: using the newest complete checkpoint" in capsys.readouterr().out


def test_an_incomplete_checkpoint_is_never_chosen(tmp_path):
    store = store_with(tmp_path, [1, 2])
    os.remove(store.directory / "iter_0000002" / INFO_FILE)
    os.remove(store.directory / LATEST)
    assert resolve_checkpoint(tmp_path).name == "iter_0000001"
    os.remove(store.directory / "iter_0000001" / INFO_FILE)
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        resolve_checkpoint(tmp_path)


def test_replacing_a_directory_leaves_only_the_new_content(tmp_path):
    new, target = tmp_path / "new", tmp_path / "target"
    for directory, text in ((new, "new"), (target, "old")):
        directory.mkdir()
        (directory / "file").write_text(text)
    (target / "only_in_old").write_text("x")
    replace_directory(new, target)
    assert not new.exists()
    assert sorted(p.name for p in target.iterdir()) == ["file"]
    assert (target / "file").read_text() == "new"


def test_resaving_an_iteration_keeps_the_pointer_valid(tmp_path):
    store = store_with(tmp_path, [1])
    store.save(1, {"model.pdparams": {"w": paddle.zeros([2])}}, {"iteration": 1}, {})
    assert json.loads((store.directory / LATEST).read_text())["checkpoint"] == "iter_0000001"
    saved = paddle.load(str(store.directory / "iter_0000001" / "model.pdparams"))
    assert float(saved["w"].sum()) == 0.0
    assert [p.name for p in store.directory.iterdir() if p.name.startswith(".")] == []


def test_an_interrupt_right_after_a_periodic_save_does_not_rewrite_it(tmp_path, monkeypatch):
    from test_trainer import _AtIteration, make_trainer, tiny_recipe

    from pointrend.data import generate_synthetic_cityscapes
    from pointrend.train.callbacks import PeriodicCheckpoint, TrainingInterrupted

    root = str(tmp_path / "data")
    generate_synthetic_cityscapes(root, num_train=4, num_val=1, size=(64, 128))
    saves = []
    real_save = CheckpointStore.save
    monkeypatch.setattr(
        CheckpointStore,
        "save",
        lambda self, iteration, *a, **k: (
            saves.append(iteration) or real_save(self, iteration, *a, **k)
        ),
    )
    interrupt = _AtIteration(2, lambda: os.kill(os.getpid(), signal.SIGINT))
    trainer = make_trainer(
        tiny_recipe(root, str(tmp_path / "run")),
        callbacks=[interrupt, PeriodicCheckpoint(2)],
    )
    with pytest.raises(TrainingInterrupted, match="iter_0000002"):
        trainer.fit()
    assert saves == [2]
