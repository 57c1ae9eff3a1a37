"""An asyncio lock whose waiters enter by priority, FIFO within a level.

A provider's requests from one daemon wait their turn for the cluster rate
limiter in line; with a plain lock that line is first come, first served,
and phase 1 of a new import (CRITICAL) would queue behind hundreds of venue
lookups (NORMAL) for seconds. With this gate the most urgent waiter always
goes next.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from contextlib import asynccontextmanager
from typing import AsyncIterator


class PriorityGate:
    """Mutual exclusion where the waiter with the lowest ``priority`` number enters next."""

    def __init__(self) -> None:
        self._held = False
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    @asynccontextmanager
    async def hold(self, priority: int) -> AsyncIterator[None]:
        """Hold the gate for the block; waits (cancellably) behind more urgent waiters."""
        await self._acquire(priority)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, priority: int) -> None:
        if not self._held and not self._waiters:
            self._held = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._seq), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # handed the gate just as we were cancelled: pass it on
            raise

    def _release(self) -> None:
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)  # the gate passes straight to the next waiter
                return
        self._held = False
