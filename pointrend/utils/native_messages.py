"""Catching what native libraries print on stderr, e.g. libjpeg's "Premature end of JPEG file".

OpenCV decodes a truncated JPEG without an error: libjpeg fills the missing rows and only
prints a warning on file descriptor 2, which Python's sys.stderr never sees. Redirecting the
descriptor around a call turns those warnings into values a caller can act on.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def native_stderr_lines() -> Iterator[list[str]]:
    """Collect the lines native code writes to file descriptor 2 inside the block (the list is
    filled when the block ends). Not for concurrent use from several threads."""
    lines: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", errors="replace")
            lines.extend(line.strip() for line in text.splitlines() if line.strip())
