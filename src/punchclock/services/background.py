"""Work started after an answer is sent: it must neither delay nor fail the answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from punchclock.errors import StoreUnavailable

log = logging.getLogger("punchclock.services")


class Background:
    """Run work nobody awaits; `drain()` waits for it (shutdown, tests)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def run(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(_logged(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the work started after answers were sent to finish."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def _logged(work: Coroutine[Any, Any, object]) -> None:
    """Run work nobody awaits; an error is logged, never lost silently."""
    try:
        await work
    except StoreUnavailable:  # an outage, not a bug: one line, no traceback
        log.warning("background work skipped: the database is unavailable")
    except Exception:
        log.exception("background work failed")
