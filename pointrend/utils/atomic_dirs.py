"""Replacing a directory by another in one step where the OS allows it."""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
from pathlib import Path

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False when unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if result == 0:
        return True
    error = ctypes.get_errno()
    if error in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: the filesystem cannot exchange
        return False
    raise OSError(error, os.strerror(error), str(second))


def replace_directory(new: Path, target: Path) -> None:
    """Move directory `new` to `target`, replacing an existing `target`.

    With an atomic exchange a reader always finds a complete `target`; elsewhere `target` is
    missing between two renames, which readers must survive (resolve_checkpoint falls back to
    the newest complete checkpoint).
    """
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new)
        return
    stale = target.with_name(f".{target.name}.stale")
    shutil.rmtree(stale, ignore_errors=True)
    os.rename(target, stale)
    os.rename(new, target)
    shutil.rmtree(stale)
