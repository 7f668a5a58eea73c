"""A progress line for people on a terminal; silent when output is not a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(
        self,
        label: str,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        unit: str = "msgs",
    ) -> None:
        self.unit = unit
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label = label
        self.started = time.monotonic()
        self._last = 0.0

    def __call__(self, count: int, done: int | None, total: int | None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and not (total and done == total):
            return
        self._last = now
        rate = count / max(now - self.started, 1e-6)
        if total:
            frac = min(1.0, (done or 0) / total)
            bar = "#" * int(frac * 30)
            line = f"\r{self.label} [{bar:<30}] {frac:6.1%} {count:>9,} {self.unit} {rate:8,.0f}/s"
        else:
            line = f"\r{self.label} {count:>9,} {self.unit} {rate:8,.0f}/s"
        self.stream.write(line)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
