"""One progress line on stderr: done/total, rate and time left."""

import math
import sys
import time
from typing import TextIO


class ProgressBar:
    """`desc [#####-----] done/total, 4.20 images/s, 00:01:10 left`.

    On a terminal the line is redrawn in place, at most 10 times a second. Elsewhere (a log file,
    a pipe) a new line is written each tenth of the way, so that a log shows progress without
    carriage returns. The final line, with the total time, is written when `total` is reached,
    or by `close()` if the work stops early.
    """

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str = "items",
        stream: TextIO | None = None,
        enabled: bool = True,
        width: int = 30,
    ) -> None:
        self.total, self.desc, self.unit, self.width = total, desc, unit, width
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0
        self.done = 0
        self._start = time.perf_counter()
        self._last_draw = 0.0
        self._next_tenth = 1
        self._finished = False
        self._interactive = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, count: int = 1) -> None:
        self.done += count
        if not self.enabled or self._finished:
            return
        if self.done >= self.total:
            self.close()
        elif self._interactive:
            now = time.perf_counter()
            if now - self._last_draw > 0.1:
                self._last_draw = now
                self._write("\r" + self._line())
        elif self.done * 10 >= self._next_tenth * self.total:
            self._next_tenth = self.done * 10 // self.total + 1
            self._write(self._line() + "\n")

    def close(self) -> None:
        if not self.enabled or self._finished:
            return
        self._finished = True
        self._write(("\r" if self._interactive else "") + self._line() + "\n")

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def _line(self) -> str:
        filled = self.width * min(self.done, self.total) // self.total
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        rate = self.done / elapsed
        if self._finished:
            timing = f"done in {_clock(elapsed)}"
        else:
            timing = f"{_clock((self.total - self.done) / rate) if rate > 0 else '--:--:--'} left"
        return (
            f"{self.desc} [{'#' * filled}{'-' * (self.width - filled)}] {self.done}/{self.total}, "
            f"{rate:.2f} {self.unit}/s, {timing}"
        )


def _clock(seconds: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(seconds)) if math.isfinite(seconds) else "--:--:--"
