"""Trainer parts without a training run: sample order, LR schedule, decay groups, checkpoint
store."""

import errno
import json
import threading

import numpy as np
import paddle
import pytest

from pointrend.train import checkpoint as checkpoint_module
from pointrend.train.checkpoint import (
    CheckpointError,
    CheckpointStore,
    read_trainer_state,
    resolve_checkpoint,
)
from pointrend.train.optim import poly_with_warmup, split_decay_groups
from pointrend.train.sampler import IterationBatchSampler, SeededSamples
from pointrend.train.settings import TrainingSettingError


def test_resumed_sampler_yields_exactly_the_remaining_batches():
    full = list(IterationBatchSampler(dataset_size=5, batch_size=3, num_batches=7, seed=1))
    tail = IterationBatchSampler(dataset_size=5, batch_size=3, num_batches=7, start_batch=4, seed=1)
    assert len(tail) == 3 and list(tail) == full[4:]


def test_sampler_covers_every_image_once_per_epoch_and_depends_on_the_seed():
    batches = list(IterationBatchSampler(dataset_size=6, batch_size=3, num_batches=2, seed=0))
    assert sorted(index for batch in batches for index, _ in batch) == list(range(6))
    other = list(IterationBatchSampler(dataset_size=6, batch_size=3, num_batches=2, seed=1))
    assert [i for b in batches for i, _ in b] != [i for b in other for i, _ in b]


def test_ranks_take_disjoint_chunks_of_each_global_batch():
    single = list(IterationBatchSampler(dataset_size=10, batch_size=4, num_batches=3, seed=2))
    ranks = [
        list(
            IterationBatchSampler(
                dataset_size=10, batch_size=2, num_batches=3, seed=2, rank=r, world_size=2
            )
        )
        for r in (0, 1)
    ]
    for step, global_batch in enumerate(single):
        assert ranks[0][step] + ranks[1][step] == global_batch


class _RandomItems(paddle.io.Dataset):
    """Items drawn from numpy's global generator, like a random augmentation would."""

    def __len__(self):
        return 4

    def __getitem__(self, index):
        return index, np.random.rand()


def test_seeded_samples_repeat_their_randomness():
    samples = SeededSamples(_RandomItems())
    assert samples[(2, 7)] == samples[(2, 7)]
    assert samples[(2, 7)] != samples[(2, 8)]


class _TwoStepRandomItems(paddle.io.Dataset):
    """Items drawn from numpy's global generator in two steps, like an augmentation pipeline;
    item 0 pauses between them until another read has begun (or 0.5 s have passed)."""

    def __init__(self):
        self.paused = threading.Event()
        self.other_began = threading.Event()

    def __len__(self):
        return 2

    def __getitem__(self, index):
        first = np.random.rand()
        if index == 0:
            self.paused.set()
            self.other_began.wait(timeout=0.5)
        else:
            self.other_began.set()
        return first, np.random.rand()


def test_a_read_in_another_thread_does_not_change_a_seeded_sample():
    """A DataLoader without workers reads in its own thread while the main thread may read a
    bad sample's replacement: each item must still be the one its seed gives."""
    dataset = _TwoStepRandomItems()
    samples = SeededSamples(dataset)
    alone = [samples[(0, 7)], samples[(1, 8)]]
    dataset.paused.clear()
    dataset.other_began.clear()
    read_in_thread = []
    reader = threading.Thread(target=lambda: read_in_thread.append(samples[(0, 7)]))
    reader.start()
    assert dataset.paused.wait(timeout=10)
    read_here = samples[(1, 8)]
    reader.join(timeout=10)
    assert [read_in_thread[0], read_here] == alone


def test_seeded_samples_give_the_same_augmentations_with_and_without_workers(tmp_path):
    from pointrend.data import (
        CityscapesDataset,
        build_train_transforms,
        generate_synthetic_cityscapes,
    )

    generate_synthetic_cityscapes(str(tmp_path), num_train=4, num_val=0, size=(64, 128))
    dataset = CityscapesDataset(str(tmp_path), "train", build_train_transforms(crop_size=(32, 64)))
    keys = [[(index, 1000 + index)] for index in range(4)]

    def crops(num_workers):
        loader = paddle.io.DataLoader(
            SeededSamples(dataset), batch_sampler=keys, num_workers=num_workers
        )
        return [label.numpy() for _, label in loader]

    for in_process, in_worker in zip(crops(0), crops(2), strict=True):
        np.testing.assert_array_equal(in_process, in_worker)


def test_poly_schedule_with_linear_warmup():
    scheduler = poly_with_warmup(
        base_lr=0.01,
        total_iters=110,
        warmup_iters=10,
        power=0.9,
        min_lr=0.0,
        warmup_start_factor=0.1,
    )
    lrs = []
    for _ in range(111):
        lrs.append(scheduler())
        scheduler.step()
    assert lrs[0] == pytest.approx(0.001)
    assert lrs[5] == pytest.approx(0.001 + 0.5 * (0.01 - 0.001))
    assert lrs[10] == pytest.approx(0.01)
    assert lrs[60] == pytest.approx(0.01 * 0.5**0.9)
    assert lrs[110] == pytest.approx(0.0)
    with pytest.raises(TrainingSettingError, match="must exceed warmup_iters"):
        poly_with_warmup(0.01, total_iters=10, warmup_iters=10)


def test_norm_and_bias_parameters_are_not_decayed():
    network = paddle.nn.Sequential(
        paddle.nn.Conv2D(3, 4, 3), paddle.nn.BatchNorm2D(4), paddle.nn.Conv2D(4, 2, 1)
    )
    decayed, exempt = split_decay_groups(network, 1e-4, decay_norm_and_bias=False)
    assert [p.name for p in decayed["params"]] == [network[0].weight.name, network[2].weight.name]
    assert {p.name for p in exempt["params"]} == {
        network[0].bias.name,
        network[1].weight.name,
        network[1].bias.name,
        network[2].bias.name,
    }
    assert (decayed["weight_decay"], exempt["weight_decay"]) == (1e-4, 0.0)
    (everything,) = split_decay_groups(network, 1e-4, decay_norm_and_bias=True)
    assert len(everything["params"]) == 6  # BN running statistics are not trainable


def _state(value: float) -> dict:
    return {"model.pdparams": {"w": paddle.full([2], value)}}


def test_a_failed_save_leaves_the_previous_latest_intact(tmp_path, monkeypatch):
    store = CheckpointStore(tmp_path, keep_last=2)
    store.save(1, _state(1.0), {"iteration": 1}, {})

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(checkpoint_module.paddle, "save", disk_full)
        with pytest.raises(
            CheckpointError,
            match="cannot write checkpoint iter_0000002 in .*: no space left on device"
            ".*still iter_0000001",
        ):
            store.save(2, _state(2.0), {"iteration": 2}, {})
    latest = resolve_checkpoint(tmp_path)
    assert latest.name == "iter_0000001" and read_trainer_state(latest)["iteration"] == 1
    assert not (tmp_path / "iter_0000002").exists()
    store.save(3, _state(3.0), {"iteration": 3}, {})
    assert not list(tmp_path.glob(".*.partial")), (
        "the half-written checkpoint is cleaned up by the next save"
    )


def test_retention_keeps_the_newest_and_the_best(tmp_path):
    directory = tmp_path / "checkpoints"
    store = CheckpointStore(directory, keep_last=2)
    store.save(1, _state(1.0), {"iteration": 1}, {}, best_metric=("mIoU", 0.9))
    for iteration in (2, 3, 4):
        store.save(iteration, _state(iteration), {"iteration": iteration}, {})
    assert sorted(p.name for p in directory.glob("iter_*")) == [
        "iter_0000001",
        "iter_0000003",
        "iter_0000004",
    ]
    assert json.loads((directory / "best.json").read_text()) == {
        "checkpoint": "iter_0000001",
        "iteration": 1,
        "mIoU": 0.9,
    }
    # From a training output directory: "best" for evaluation, "latest" for resuming.
    assert resolve_checkpoint(tmp_path, prefer="best").name == "iter_0000001"
    assert resolve_checkpoint(tmp_path).name == "iter_0000004"
