"""Event-loop lag, measured from the loop itself.

A task sleeps for a fixed tick and records how late it woke up. A loop that
blocks (a sync call on the loop, a CPU-bound actor) shows as lag; a wedged
loop stops the systemd watchdog pings sent beside it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

#: Seconds between lag samples.
TICK_S = 0.25
#: Samples kept for percentiles (5 minutes at the default tick).
SAMPLES = 1200


class LoopMonitor:
    """Keep the latest and the worst recent lag of the running loop, in seconds."""

    def __init__(self, tick_s: float = TICK_S, samples: int = SAMPLES) -> None:
        self.tick_s = tick_s
        self.lag_s = 0.0
        self.max_lag_s = 0.0
        self.last_tick = time.monotonic()
        self.samples: deque[float] = deque(maxlen=samples)

    def percentile(self, q: float) -> float:
        """The ``q`` quantile (0..1) of the recent lag samples, in seconds (0 before the first)."""
        if not self.samples:
            return 0.0
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1)))]

    async def run(self) -> None:
        """Sample forever (run as a task)."""
        while True:
            started = time.monotonic()
            await asyncio.sleep(self.tick_s)
            self.last_tick = time.monotonic()
            self.lag_s = max(0.0, self.last_tick - started - self.tick_s)
            self.samples.append(self.lag_s)
            self.max_lag_s = max(self.max_lag_s * 0.9, self.lag_s)
