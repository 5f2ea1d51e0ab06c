"""The time as the services see it: a seam tests fix."""

from __future__ import annotations

import time
from typing import Protocol

DAY = 24 * 3600 * 1_000_000  # microseconds


class Clock(Protocol):
    def now(self) -> int:
        """Return the time in microseconds since the Unix epoch."""
        ...


class SystemClock:
    def now(self) -> int:
        return time.time_ns() // 1000
