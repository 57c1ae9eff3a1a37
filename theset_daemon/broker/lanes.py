"""A lane: one queue's share of a worker (slots, fetched jobs, rate limit, runners)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from .job import Job
from .metrics import RATE_LIMIT_WAIT
from .queues import QueueSpec
from .rate_limit import ClusterRateLimiter


@dataclass(eq=False)
class Lane:
    """One queue served by a worker.

    Attributes:
      spec: the queue's row of the table (concurrency, rate).
      free: slots neither running nor reserved by a fetch in flight.
      running: jobs running now.
      jobs: fetched jobs not yet started (at most ``concurrency``).
      limiter: the cluster-wide rate limiter, when the queue has a rate.
      rate_ready_at: monotonic time before which no rate slot is free.
      maybe_waiting: whether the queue may hold waiting jobs (last fetch, or a wake-up).
      marker: the queue's wake-up key.
    """

    spec: QueueSpec
    marker: str
    limiter: ClusterRateLimiter | None = None
    free: int = 0
    running: int = 0
    jobs: asyncio.Queue[Job] = field(default_factory=asyncio.Queue)
    rate_ready_at: float = 0.0
    maybe_waiting: bool = True
    runners: list[asyncio.Task] = field(default_factory=list)
    denied_since: float | None = None

    def __post_init__(self) -> None:
        self.free = self.spec.concurrency

    @property
    def name(self) -> str:
        return self.spec.name

    async def reserve(self) -> int:
        """Slots to fetch for now: all free ones, or one per rate-limit slot taken.

        A rate slot is taken before fetching (so a waiting job never pins a worker
        slot) and only while the queue may hold waiting jobs.
        """
        if self.free <= 0:
            return 0
        if self.limiter is None:
            return self.free
        now = time.monotonic()
        if not self.maybe_waiting or self.rate_ready_at > now:
            return 0
        wait = await self.limiter.try_acquire()
        now = time.monotonic()
        if wait > 0:
            self.rate_ready_at = now + wait
            if self.denied_since is None:
                self.denied_since = now
            return 0
        if self.denied_since is not None:
            RATE_LIMIT_WAIT.labels(self.limiter.name).observe(now - self.denied_since)
            self.denied_since = None
        return 1
