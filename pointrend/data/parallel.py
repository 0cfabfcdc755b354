"""Map a function over many files on several processes, with a progress bar on stderr."""
import multiprocessing
import os
import sys
import time
from typing import Callable, Iterable, List, Optional, Sequence, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class ProgressBar:
    """`desc [#####-----] done/total` redrawn in place (at most 10 times a second) on a terminal;
    a single final line otherwise, so that logs stay readable."""

    def __init__(self, total: int, desc: str, stream=None, width: int = 30) -> None:
        self.total, self.desc, self.width = total, desc, width
        self.stream = stream or sys.stderr
        self.done = 0
        self._last_draw = 0.0
        self._interactive = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if self._interactive and (now - self._last_draw > 0.1 or self.done == self.total):
            self._last_draw = now
            self.stream.write("\r" + self._line())
            self.stream.flush()

    def close(self) -> None:
        self.stream.write(("\r" if self._interactive else "") + self._line() + "\n")
        self.stream.flush()

    def _line(self) -> str:
        filled = self.width * self.done // max(self.total, 1)
        return f"{self.desc} [{'#' * filled}{'-' * (self.width - filled)}] {self.done}/{self.total}"


def parallel_map(function: Callable[[Item], Result], items: Sequence[Item], workers: Optional[int] = None,
                 desc: str = "", progress: bool = True) -> List[Result]:
    """[function(item) for item in items] on `workers` processes (default: all cores), in order.

    `function` must be a module-level function so it can be sent to the worker processes.
    """
    workers = min(workers or os.cpu_count() or 1, len(items))
    bar = ProgressBar(len(items), desc) if progress and items else None
    if workers <= 1:
        return _collect(map(function, items), bar)
    with multiprocessing.Pool(workers) as pool:
        return _collect(pool.imap(function, items, chunksize=max(1, len(items) // (workers * 16))), bar)


def _collect(results: Iterable[Result], bar: Optional[ProgressBar]) -> List[Result]:
    collected = []
    for result in results:
        collected.append(result)
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    return collected
