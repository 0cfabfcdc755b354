"""Deterministic, resumable sample order for an iteration schedule.

The schedule is one stream of samples: epoch e is a permutation of the dataset drawn from
(seed, e), the epochs are concatenated, and global batch t is the slice [t*B, (t+1)*B) of the
stream. Rank r of W takes the r-th contiguous chunk of B/W samples of every global batch. Each
sample also gets its own augmentation seed from (seed, stream position), so a run resumed at
batch t sees exactly the images AND the augmentations an uninterrupted run would, whatever the
number of data-loader workers.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import paddle


def sample_seed(seed: int, position: int) -> int:
    """Augmentation seed of the sample at `position` in the stream (a 32-bit int)."""
    return int(np.random.SeedSequence([seed, position]).generate_state(1)[0])


class IterationBatchSampler:
    """Yields batches `start_batch .. num_batches-1` of the stream, as lists of (index, seed).

    len() is exactly the number of batches left, which is what hapi iterates over as one epoch.
    """

    def __init__(
        self,
        dataset_size: int,
        batch_size: int,
        num_batches: int,
        start_batch: int = 0,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if dataset_size <= 0:
            raise ValueError("the training dataset is empty")
        if not 0 <= start_batch <= num_batches:
            raise ValueError(
                f"start_batch={start_batch} is outside the schedule of {num_batches} batches"
            )
        self.dataset_size = dataset_size
        self.batch_size = batch_size
        self.num_batches = num_batches
        self.start_batch = start_batch
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self._epoch_cache: tuple[int, np.ndarray] = (-1, np.empty(0, dtype=np.int64))

    def __len__(self) -> int:
        return self.num_batches - self.start_batch

    def _permutation(self, epoch: int) -> np.ndarray:
        if self._epoch_cache[0] != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            self._epoch_cache = (epoch, rng.permutation(self.dataset_size))
        return self._epoch_cache[1]

    def _index_at(self, position: int) -> int:
        epoch, offset = divmod(position, self.dataset_size)
        return int(self._permutation(epoch)[offset])

    def batch(self, number: int) -> list[tuple[int, int]]:
        """This rank's (index, seed) pairs of batch `number` of the schedule."""
        first = number * self.batch_size * self.world_size + self.rank * self.batch_size
        positions = range(first, first + self.batch_size)
        return [(self._index_at(p), sample_seed(self.seed, p)) for p in positions]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for number in range(self.start_batch, self.num_batches):
            yield self.batch(number)


# Seeding and reading one sample is one step per process. The generators seeded are shared by
# the process's threads, and two threads do read samples: a DataLoader without workers reads in
# a thread of its own, ahead of training, while the main thread may read the replacement of a
# bad sample (`bad_batches`). Interleaved, one read would draw from the other's seed, so the
# augmentation would depend on thread timing and a resumed run could not repeat it.
_SEEDED_READ = threading.Lock()


def _new_seeded_read_lock() -> None:
    """A forked child starts with a free lock (the parent's may be held by a reading thread)."""
    global _SEEDED_READ
    _SEEDED_READ = threading.Lock()


os.register_at_fork(after_in_child=_new_seeded_read_lock)


class SeededSamples(paddle.io.Dataset):
    """Wraps a dataset so that item (index, seed) is produced with every generator seeded.

    Seeds python `random`, numpy's global generator and, when the dataset's `transforms` has a
    `set_random_seed` method (albumentations Compose), the transforms' own generator; one read
    at a time per process (see _SEEDED_READ).
    """

    def __init__(self, dataset: paddle.io.Dataset) -> None:
        self.dataset = dataset
        if hasattr(dataset, "reseed_transforms_per_worker"):
            # Per-sample seeds make the dataset's own per-worker reseeding redundant, and it would
            # override the seed of the first sample each worker reads.
            dataset.reseed_transforms_per_worker = False

    def __len__(self) -> int:
        return len(self.dataset)

    # Keyed by the (index, seed) pairs of IterationBatchSampler, not by an index alone.
    def __getitem__(self, key: tuple[int, int]) -> Any:  # type: ignore[override]
        index, seed = key
        with _SEEDED_READ:
            random.seed(seed)
            np.random.seed(seed)
            set_transforms_seed = getattr(
                getattr(self.dataset, "transforms", None), "set_random_seed", None
            )
            if set_transforms_seed is not None:
                set_transforms_seed(seed)
            return self.dataset[index]
