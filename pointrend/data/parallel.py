"""Map a function over many files on several processes, with a progress bar on stderr."""

import multiprocessing
import os
from typing import Callable, Iterable, List, Optional, Sequence, TypeVar

from pointrend.utils.progress import ProgressBar

Item = TypeVar("Item")
Result = TypeVar("Result")


def parallel_map(
    function: Callable[[Item], Result],
    items: Sequence[Item],
    workers: Optional[int] = None,
    desc: str = "",
    progress: bool = True,
) -> List[Result]:
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


def _collect(results: Iterable[Result], bar: Optional[ProgressBar]) -> List[Result]:
    collected = []
    for result in results:
        collected.append(result)
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    return collected
