"""A full disk (OSError 28) while writing checkpoints, evaluation results or predictions: one line
naming the folder, nothing half-written left behind, and `eval` keeps its printed results."""

import errno
import json
from pathlib import Path

import pytest
from test_trainer import make_trainer, tiny_recipe

from pointrend.app.commands import evaluate
from pointrend.data import generate_synthetic_cityscapes
from pointrend.train import checkpoint as checkpoint_module
from pointrend.train.checkpoint import CheckpointError, resolve_checkpoint
from pointrend.utils import output_files
from pointrend.utils.output_files import OutputWriteError, write_bytes_atomically


class FullDiskFile:
    """A file that takes the first few bytes, then fails as a full disk does."""

    def __init__(self, path, mode, *args, **kwargs):
        self.handle = open(path, mode, *args, **kwargs)  # noqa: SIM115 - closed in __exit__

    def write(self, data):
        self.handle.write(data[:3])
        raise OSError(errno.ENOSPC, "No space left on device")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()


@pytest.fixture
def full_disk(monkeypatch):
    monkeypatch.setattr(output_files, "open", FullDiskFile, raising=False)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("synthetic"))
    generate_synthetic_cityscapes(root, num_train=2, num_val=1, size=(64, 128))
    recipe = tiny_recipe(root, str(tmp_path_factory.mktemp("run")))
    make_trainer(recipe).save_checkpoint()
    return recipe


def test_atomic_write_on_a_full_disk_names_the_folder_and_leaves_nothing(tmp_path, full_disk):
    target = tmp_path / "out" / "result.json"
    with pytest.raises(OutputWriteError) as caught:
        write_bytes_atomically(target, b"0123456789")
    assert str(caught.value) == (
        f"cannot write result.json in {tmp_path / 'out'}: no space left "
        "on device; free space there or choose another folder"
    )
    assert list((tmp_path / "out").iterdir()) == []


def test_eval_prints_its_table_before_a_failed_write_and_warns(saved_run, full_disk, capsys):
    results = evaluate(saved_run)
    captured = capsys.readouterr()
    assert "mIoU" in captured.out and "results written" not in captured.out
    warning = captured.err.strip().splitlines()[-1]  # after the progress bar
    assert warning.startswith("warning: cannot write iter_0000000.json in ")
    assert warning.endswith(
        "no space left on device; free space there or choose another folder; "
        "the results above were not saved"
    )
    eval_dir = Path(saved_run.output_dir) / "eval"
    assert not eval_dir.exists() or not list(eval_dir.iterdir())
    assert 0.0 <= results["mIoU"] <= 1.0


def test_checkpoint_on_a_full_disk_keeps_the_previous_latest(saved_run, tmp_path, monkeypatch):
    recipe = tiny_recipe(saved_run.data.root, str(tmp_path))
    trainer = make_trainer(recipe)
    trainer.save_checkpoint()
    trainer.iteration = 1

    def full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module.Path, "write_text", full)
    with pytest.raises(CheckpointError) as caught:
        trainer.save_checkpoint()
    monkeypatch.undo()
    assert str(caught.value) == (
        f"cannot write checkpoint iter_0000001 in {tmp_path / 'checkpoints'}: no space left on "
        "device; free space there or choose another folder; the latest checkpoint is still "
        "iter_0000000"
    )
    assert resolve_checkpoint(tmp_path).name == "iter_0000000"
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "iter_0000000",
        "latest.json",
    ]
    assert json.loads((tmp_path / "checkpoints" / "latest.json").read_text())["iteration"] == 0


def test_a_pointer_that_cannot_be_written_keeps_the_previous_latest(
    saved_run, tmp_path, monkeypatch
):
    recipe = tiny_recipe(saved_run.data.root, str(tmp_path))
    trainer = make_trainer(recipe)
    trainer.save_checkpoint()
    trainer.iteration = 1
    real_write_text = checkpoint_module.Path.write_text

    def full_for_pointers(path, *args, **kwargs):
        if path.name.startswith(".latest.json"):
            real_write_text(path, "{")  # a few bytes reach the disk, then it is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write_text(path, *args, **kwargs)

    monkeypatch.setattr(checkpoint_module.Path, "write_text", full_for_pointers)
    with pytest.raises(
        CheckpointError,
        match=r"^cannot write latest\.json in .*checkpoints: no "
        r"space left on device",
    ):
        trainer.save_checkpoint()
    monkeypatch.undo()
    checkpoints = tmp_path / "checkpoints"
    assert resolve_checkpoint(tmp_path).name == "iter_0000000"
    assert not list(checkpoints.glob(".*partial"))
    assert (checkpoints / "iter_0000001" / "checkpoint.json").is_file()
