"""One training run per output folder: a lock file naming its holder.

Two runs writing the same checkpoints/ and recipe.json would each report success while one's
checkpoints are gone. The lock is created in one step (hard link of a complete file), so a
reader never sees it half-written. A lock whose process is no longer alive on this host is
stale (a run killed with SIGKILL or by a crash) and is taken over with a note; a lock of
another host cannot be checked and is never taken over.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
from pathlib import Path
from types import TracebackType

from pointrend.utils.setting_names import NamesSettings

LOCK_FILE = "train.lock"


class RunLockedError(NamesSettings, RuntimeError):
    """Another training run holds the output folder."""


def _process_start(pid: int) -> str | None:
    """The kernel's start time of process `pid` (Linux), which tells a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _process_alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        pass
    now = _process_start(pid)
    return start is None or now is None or now == start


def _describe(holder: dict) -> str:
    return (
        f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}"
        f" ({holder.get('command', '?')})"
    )


class RunLock:
    """`with RunLock(output_dir):` holds `output_dir/train.lock` for the block, released on any
    exit (an exception included). Raises RunLockedError when another live run holds it."""

    def __init__(self, output_dir: str | os.PathLike, command: str = "train") -> None:
        self.path = Path(output_dir) / LOCK_FILE
        self.holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": command,
            "process_start": _process_start(os.getpid()),
        }
        self._held = False

    def __enter__(self) -> None:
        self.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            if self._create():
                self._held = True
                return
            holder = self._read()
            if holder is None:
                continue  # released (or replaced) between our attempt and the read
            if not self._is_stale(holder):
                raise RunLockedError(
                    f"{self.path.parent} is in use by another training run ({_describe(holder)}): "
                    f"two runs in one output folder overwrite each other's checkpoints. Wait for "
                    f"it, stop it, or choose another output_dir. If that run is gone (e.g. another "
                    f"host that crashed), delete {self.path}",
                    ("output_dir",),
                )
            if self._take_over(holder):
                print(
                    f"note: taking over the stale lock of a run that is no longer alive "
                    f"({_describe(holder)})",
                    flush=True,
                )
                self._held = True
                return
        raise RunLockedError(f"could not lock {self.path}: other runs keep taking it")

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        if (self._read() or {}).get("pid") == self.holder["pid"]:
            self.path.unlink(missing_ok=True)

    def _create(self) -> bool:
        """Write the lock content to a private file and hard-link it into place: False when a
        lock exists already."""
        private = self.path.with_name(f".{LOCK_FILE}.{os.getpid()}")
        private.write_text(json.dumps(self.holder, indent=2))
        try:
            os.link(private, self.path)
            return True
        except FileExistsError:
            return False
        finally:
            private.unlink(missing_ok=True)

    def _read(self) -> dict | None:
        try:
            holder = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {"pid": None, "host": None, "started": None, "command": "unreadable lock"}
        return holder if isinstance(holder, dict) else {"pid": None, "command": "unreadable lock"}

    def _is_stale(self, holder: dict) -> bool:
        if holder.get("pid") is None:
            return True  # not written by RunLock: nothing names a live holder
        if holder.get("host") != self.holder["host"]:
            return False
        pid = int(holder["pid"])
        return pid != os.getpid() and not _process_alive(pid, holder.get("process_start"))

    def _take_over(self, stale: dict) -> bool:
        """Move the stale lock aside and create ours; False if someone else took it first."""
        aside = self.path.with_name(f".{LOCK_FILE}.stale.{os.getpid()}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return False
        try:
            moved = json.loads(aside.read_text())
        except (OSError, ValueError):
            moved = {"pid": None}
        if moved.get("pid") != stale.get("pid") or moved.get("started") != stale.get("started"):
            # Another process took the stale lock over first and we moved ITS lock: put it back.
            os.link(aside, self.path)
            aside.unlink()
            return False
        aside.unlink()
        return self._create()
