"""Catching what native libraries print on stdout / stderr.

OpenCV decodes a truncated JPEG without an error: libjpeg fills the missing rows and only
prints a warning ("Premature end of JPEG file") on file descriptor 2, which Python's sys.stderr
never sees. Redirecting the descriptor around a call turns those warnings into values a caller
can act on. Converters such as paddle2onnx print pages of progress and optimiser notes on both
descriptors; `quiet_native_output` keeps them off the terminal unless the call fails.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout


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


@contextmanager
def quiet_native_output() -> Iterator[None]:
    """Keep what the block prints off the terminal: file descriptors 1 and 2 (native code) go to a
    scratch file, sys.stdout / sys.stderr (Python, warnings) to a buffer. When the block raises,
    both go to stderr before the exception, so a failure keeps its explanation. Not for
    concurrent use from several threads."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    python_output = io.StringIO()
    failed = True
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            with redirect_stdout(python_output), redirect_stderr(python_output):
                yield
            failed = False
        finally:
            for descriptor, original in zip((1, 2), saved, strict=True):
                os.dup2(original, descriptor)
                os.close(original)
            if failed:
                sink.seek(0)
                sys.stderr.write(sink.read().decode("utf-8", errors="replace"))
                sys.stderr.write(python_output.getvalue())
                sys.stderr.flush()
