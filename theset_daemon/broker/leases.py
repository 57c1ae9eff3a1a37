"""Leases: how a live daemon keeps its jobs and how a dead daemon's jobs come back.

Every fetched job sits in its queue's ``active`` ZSET scored by lease expiry
(3/4 of ``lease_timeout_s`` after fetch or renewal). Every 1/4 of
``lease_timeout_s`` each daemon renews all its leases in one call; the same
call, on at most one daemon per interval (a ``SET NX PX`` inside the script),
reclaims lapsed leases and trims retention; it also writes this daemon's
heartbeat (when, which jobs it holds) for the admin API. A job whose daemon stopped renewing
is therefore back in ``waiting`` within ``lease_timeout_s``, with its attempt
not counted; while its daemon lives and renews, no one else can take it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Callable, Iterable

from .metrics import LEASE_RECLAIMS

if TYPE_CHECKING:
    from .broker import TheSetBroker
    from .job import Job

logger = logging.getLogger(__name__)


class LeaseKeeper:
    """Renews this daemon's leases and runs the cluster's reclaim check.

    Parameters:
      broker: the broker.
      queues: the queue names this daemon checks.
      held: returns the jobs this daemon holds right now.
    """

    def __init__(self, broker: "TheSetBroker", queues: list[str], held: Callable[[], Iterable["Job"]]) -> None:
        self.broker = broker
        self.queues = queues
        self.held = held
        self.interval_s = broker.lease_timeout_s / 4
        self.reclaimed = 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="theset-leases")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
            try:  # the heartbeat record says this daemon left (the admin API shows it not alive)
                beat = self.broker.keys.daemon(self.broker.host_id)
                await self.broker.aredis.hset(beat, mapping={"stopped_at": int(time.time() * 1000), "active": 0, "jobs": ""})
            except Exception:
                logger.debug("could not mark the heartbeat stopped", exc_info=True)

    async def check(self) -> int:
        """Renew held leases; reclaim lapsed ones if this daemon holds the interval's turn.

        Returns the number of jobs reclaimed.
        """
        jobs = list(self.held())
        args: list[object] = [len(jobs)]
        for job in jobs:
            args += (job.queue, job.job_id, job.token)
        args += [len(self.queues), *self.queues]
        args.append(int(self.interval_s * 1000))
        counts = await self.broker.run_script("maintain", args)
        for queue, count in zip(self.queues, counts):
            if int(count):
                LEASE_RECLAIMS.labels(queue).inc(int(count))
        reclaimed = sum(int(c) for c in counts)
        if reclaimed:
            logger.warning("reclaimed %d jobs whose daemon stopped renewing its leases", reclaimed)
        self.reclaimed += reclaimed
        return reclaimed

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("lease check failed", exc_info=True)
            await asyncio.sleep(self.interval_s)
