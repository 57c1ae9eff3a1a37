"""Finish records (ack, retry, dead, hand-back, progress) sent in batches.

Each record is applied by a Lua script only if the job is still active under
the same lease token, so a record that arrives after the job was reclaimed by
another daemon changes nothing. Records ride along with the next fetch when
the fetcher is about to run; otherwise one ``finish`` call per loop tick sends
everything pending.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Awaitable, Callable

logger = logging.getLogger(__name__)

#: Seconds between attempts to send records while Redis is unreachable.
RETRY_INTERVAL_S = 0.5


class Recorder:
    """Pending finish records of one worker.

    Parameters:
      send: coroutine function applying a flat record list (kind, job_id, token, extra)*.
    """

    def __init__(self, send: Callable[[list[str]], Awaitable[object]]) -> None:
        self._send = send
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._pending: list[str] = []
        self._scheduled = False
        self._tasks: set[asyncio.Task] = set()

    def __len__(self) -> int:
        return len(self._pending) // 4

    def add(self, kind: str, job_id: str, token: str, extra: str = "") -> None:
        """Queue one record; a flush is scheduled for the end of this loop tick.

        Safe from other threads (a sync actor's progress): the record is handed to the loop.
        """
        if threading.get_ident() != self._thread:
            self._loop.call_soon_threadsafe(self.add, kind, job_id, token, extra)
            return
        self._pending += (kind, job_id, token, extra)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._tick)

    def take(self) -> list[str]:
        """Every pending record, flat; the caller sends them."""
        records, self._pending = self._pending, []
        return records

    def restore(self, records: list[str]) -> None:
        """Put back records whose sending failed, ahead of newer ones."""
        self._pending[:0] = records

    def _tick(self) -> None:
        self._scheduled = False
        if self._pending:
            task = self._loop.create_task(self.flush())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        """Send every pending record; keep them and retry while Redis fails."""
        while records := self.take():
            try:
                await self._send(records)
            except Exception:
                logger.warning("could not record %d job results; retrying", len(records) // 4, exc_info=True)
                self.restore(records)
                await asyncio.sleep(RETRY_INTERVAL_S)

    async def close(self, timeout_s: float) -> None:
        """Send what is pending and wait for flushes in progress, for at most ``timeout_s``.

        Records still unsent then are dropped with a warning: their jobs stay
        active and come back when their leases lapse (at-least-once).
        """
        try:
            await asyncio.wait_for(self._close(), timeout_s)
        except TimeoutError:
            logger.warning("dropped %d unsent job results; their jobs will be reclaimed", len(self))

    async def _close(self) -> None:
        await self.flush()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
