"""The daemons' event-loop lag during a scenario, read from their ``/healthz`` every tick.

Each daemon's loop monitor measures how late its own 250 ms sleep woke up
(``theset_daemon/runtime/loop_monitor.py``); ``/healthz`` carries the latest
measurement and the decaying worst one. :class:`LoopLagSampler` polls every
daemon once per monitor tick until told to stop, so its readings are (about)
the monitor's own samples: p50/p99 come from the latest-lag readings, the max
from the worst-lag readings (a peak is read at most one 10 % decay late). A
poll that fails or times out is counted, not guessed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp

from tests.chaos.cluster import Cluster
from theset_daemon.runtime.loop_monitor import TICK_S


@dataclass
class DaemonLag:
    """One daemon's readings, in milliseconds."""

    lag_ms: list[float] = field(default_factory=list)
    max_ms: float = 0.0
    failed_polls: int = 0

    def percentile(self, q: float) -> float:
        if not self.lag_ms:
            return 0.0
        ordered = sorted(self.lag_ms)
        return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1)))]

    def summary(self) -> dict[str, float]:
        """p50/p99/max (ms), the number of readings and of failed polls."""
        return {"p50_ms": round(self.percentile(0.5), 1), "p99_ms": round(self.percentile(0.99), 1),
                "max_ms": round(max(self.max_ms, *self.lag_ms, 0.0), 1), "samples": len(self.lag_ms),
                "failed_polls": self.failed_polls}


class LoopLagSampler:
    """Poll every live daemon's ``/healthz`` each ``period`` seconds until ``stop_at`` (monotonic)."""

    def __init__(self, cluster: Cluster, period: float = TICK_S, timeout: float = 2.0) -> None:
        self.cluster, self.period, self.timeout = cluster, period, timeout
        self.by_host: dict[str, DaemonLag] = {}

    async def run(self, stop_at: float) -> None:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while time.monotonic() < stop_at:
                tick = time.monotonic()
                await asyncio.gather(*(self._poll(session, i) for i in self.cluster.routable()))
                await asyncio.sleep(max(0.0, self.period - (time.monotonic() - tick)))

    async def _poll(self, session: aiohttp.ClientSession, i: int) -> None:
        lag = self.by_host.setdefault(self.cluster.host_id(i), DaemonLag())
        try:
            async with session.get(self.cluster.url(i) + "/healthz") as resp:
                body = await resp.json()
            lag.lag_ms.append(float(body["loop_lag_ms"]))
            lag.max_ms = max(lag.max_ms, float(body["max_loop_lag_ms"]))
        except (aiohttp.ClientError, asyncio.TimeoutError, KeyError, ValueError):
            lag.failed_polls += 1

    def summary(self) -> dict[str, dict[str, float]]:
        """Per host id: :meth:`DaemonLag.summary`."""
        return {host: lag.summary() for host, lag in sorted(self.by_host.items())}
