"""Map a function over many files on several processes, with a progress bar on stderr."""

import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from pointrend.utils.progress import ProgressBar

Item = TypeVar("Item")
Result = TypeVar("Result")


def parallel_map(
    function: Callable[[Item], Result],
    items: Sequence[Item],
    workers: int | None = None,
    desc: str = "",
    progress: bool = True,
) -> list[Result]:
    """[function(item) for item in items] on `workers` processes (default: all cores), in order.

    `function` must be a module-level function so it can be sent to the worker processes.
    """
    workers = min(workers or os.cpu_count() or 1, len(items))
    bar = ProgressBar(len(items), desc, unit="files") if progress and items else None
    if workers <= 1:
        return _collect(map(function, items), bar)
    with multiprocessing.Pool(workers) as pool:
        return _collect(
            pool.imap(function, items, chunksize=max(1, len(items) // (workers * 16))), bar
        )


def _collect(results: Iterable[Result], bar: ProgressBar | None) -> list[Result]:
    collected = []
    for result in results:
        collected.append(result)
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    return collected
