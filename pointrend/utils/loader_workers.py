"""Data-loader workers leave Ctrl-C and SIGTERM to the main process, which shuts them down.

Slurm, systemd and a terminal's Ctrl-C signal the whole process group. A worker that dies of
the signal makes Paddle's DataLoader abort the main process mid-iteration, before it can save.
So a worker ignores the first SIGINT/SIGTERM while its parent lives: the main process finishes
its iteration, saves, and shuts the workers down (`ClosingLoader.shutdown`). A further signal,
or any signal once the parent is gone, still ends the worker at once, so a worker can always
be stopped (multiprocessing's own exit clean-up also terminates workers with SIGTERM).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

_state = {"parent": 0, "signals_seen": 0}


def _on_interrupt(signum: int, frame: Any) -> None:
    _state["signals_seen"] += 1
    if _state["signals_seen"] > 1 or os.getppid() != _state["parent"]:
        os._exit(128 + signum)


def ignore_interrupts(worker_id: int) -> None:
    """A DataLoader `worker_init_fn`: the worker outlives the first SIGINT/SIGTERM."""
    _state["parent"] = os.getppid()
    _state["signals_seen"] = 0
    signal.signal(signal.SIGINT, _on_interrupt)
    signal.signal(signal.SIGTERM, _on_interrupt)


class ClosingLoader:
    """A DataLoader whose running iterator can be shut down from outside the loop.

    hapi iterates the loader itself; when training stops with an exception its frames keep the
    iterator (and so the worker processes) alive until the interpreter exits. `shutdown()` ends
    the workers the normal way (an end-of-work message, then join) as soon as training stops.
    """

    def __init__(self, loader: Any, timeout: float = 10.0) -> None:
        self.loader = loader
        self.timeout = timeout
        self._iterator: Any = None

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator:
        self._iterator = iter(self.loader)
        return self._iterator

    def __enter__(self) -> None:
        """`with loader:` shuts the workers down when the block ends, however it ends."""

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        iterator, self._iterator = self._iterator, None
        # Paddle's multi-process iterator has no public close(); this is what its __del__ calls.
        # The single-process iterator has no workers to end.
        if getattr(iterator, "_workers", None):
            iterator._try_shutdown_all(self.timeout)
