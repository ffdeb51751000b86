"""Progress on the terminal (stderr) for long loops: count, rate and, for consumers, lag."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, label: str, enabled: bool = True, every: float = 2.0):
        self.label = label
        self.enabled = enabled and sys.stderr is not None
        self.every = every
        self.started = time.monotonic()
        self._last = 0.0

    def update(self, count: int, extra: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < self.every):
            return
        self._last = now
        rate = count / max(now - self.started, 1e-9)
        print(f"\r{self.label}: {count:,} rows, {rate:,.0f} rows/s {extra}   ",
              end="", file=sys.stderr, flush=True)

    def done(self, count: int, extra: str = "") -> None:
        if self.enabled:
            self.update(count, extra, force=True)
            print(file=sys.stderr)

    def rate(self, count: int) -> float:
        return count / max(time.monotonic() - self.started, 1e-9)
