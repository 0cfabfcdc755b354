"""Training micro-batches whose samples are all unreadable, with data.on_bad_sample="skip".

Such a batch cannot just be dropped: every rank must run every step (or the gradient
all-reduce blocks) and the schedule must keep its length (or the last checkpoint never comes).
Each bad sample is replaced by the next readable sample of the dataset, read in the main thread
with the bad sample's augmentation seed, so a resumed run makes the same replacement.
"""

from __future__ import annotations

from typing import Any

import paddle

from pointrend.data.sample_errors import (
    BadSampleError,
    ErrorsAsData,
    SampleError,
    collate_with_errors,
)
from pointrend.train.sampler import SeededSamples


class ReadableReplacement:
    """Callable for SampleErrorCheck(replace_all_bad=...): fields of a batch of readable samples
    standing in for `errors`; further unreadable samples met on the way go to `skipped`."""

    def __init__(self, dataset: paddle.io.Dataset, skipped: list[SampleError]) -> None:
        self.samples = ErrorsAsData(SeededSamples(dataset))
        self.size = len(dataset)
        self.skipped = skipped

    def __call__(self, errors: list[SampleError]) -> tuple[Any, ...]:
        items = [self._next_readable(error) for error in errors if error.key is not None]
        if not items:
            raise BadSampleError(errors[-1], "a training batch that cannot be replaced")
        *fields, _ = collate_with_errors(items)
        return tuple(paddle.to_tensor(field) for field in fields)

    def _next_readable(self, error: SampleError) -> Any:
        index, seed = error.key
        for offset in range(1, self.size):
            item = self.samples[((index + offset) % self.size, seed)]
            if not isinstance(item, SampleError):
                return item
            self.skipped.append(item)
        raise BadSampleError(error, "no sample of the training set can be read")
