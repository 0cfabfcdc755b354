"""Reports training batches without a single labelled pixel instead of logging a silent 0 loss.

Such a batch (crops of unlabelled regions, or labels that are all ignore_index) has a loss of
exactly 0 and teaches nothing; when it is not a rare accident the labels are usually wrong.
"""

from __future__ import annotations

import sys

from pointrend.train.callbacks.base import HapiLogs, TrainerCallback
from pointrend.utils.distributed import rank, world_size

MAX_REPORTS = 10


class WarnOnUnlabelledBatches(TrainerCallback):
    """One warning per such micro-batch (the first MAX_REPORTS), naming the iteration and the
    images; a count at the end of training."""

    def __init__(self) -> None:
        self.count = 0

    def on_train_batch_end(self, step: int, logs: HapiLogs = None) -> None:
        if self.trainer.labelled_pixels() != 0:
            return
        self.count += 1
        if self.count > MAX_REPORTS:
            return
        where = f" (rank {rank()})" if world_size() > 1 else ""
        images = ", ".join(self.trainer.batch_files(step)) or "unknown"
        print(
            f"warning: iteration {self.trainer.iteration + 1}{where}: the batch has no labelled "
            f"pixel (every label pixel is ignore_index={self.trainer.ignore_index}), so its loss "
            f"is 0 and it teaches nothing; images: {images}"
            + (" (further ones are only counted)" if self.count == MAX_REPORTS else ""),
            file=sys.stderr,
            flush=True,
        )

    def on_train_end(self, logs: HapiLogs = None) -> None:
        if self.count > MAX_REPORTS:
            print(
                f"warning: {self.count} batches had no labelled pixel; check the labels",
                file=sys.stderr,
                flush=True,
            )
