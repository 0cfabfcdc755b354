"""Writing output files whole or not at all, and saying in one line why a write failed.

A file is written under a hidden temporary name in its folder and renamed into place, so a full
disk or a kill never leaves a truncated file under the final name.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path


class OutputWriteError(RuntimeError):
    """An output file could not be written (disk full, read-only folder, ...)."""


def describe_write_failure(error: OSError, what: str, directory: str | os.PathLike) -> str:
    """One line: what could not be written where, why, and what to do about it."""
    if error.errno == errno.ENOSPC:
        reason = "no space left on device; free space there or choose another folder"
    elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = "the folder is not writable; fix its permissions or choose another folder"
    else:
        reason = f"{error.strerror or error}"
    return f"cannot write {what} in {directory}: {reason}"


def write_bytes_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` (parents created); on failure nothing is left under either name.
    Raises OutputWriteError naming the folder."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise OutputWriteError(describe_write_failure(error, path.name, path.parent)) from error


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomically(path, text.encode("utf-8"))
