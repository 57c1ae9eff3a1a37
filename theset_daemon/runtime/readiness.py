"""Readiness: may the load balancer route to this daemon right now?

Ready means Redis and PostgreSQL answer, the worker pools run, and the daemon
is not draining. Each check runs concurrently with its own timeout, so one
hung dependency cannot hang the probe.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Awaitable, Callable

#: Seconds one dependency check may take before it counts as failed.
CHECK_TIMEOUT_S = 1.0


class NotReady(Exception):
    """A check failed; its message is the whole reason ``/readyz`` shows."""


@dataclass
class ReadinessCheck:
    """Named async checks plus the draining flag; :meth:`run` evaluates them all.

    Parameters:
      checks: name -> coroutine function that raises (or returns False) when not ready.
      timeout_s: per-check timeout in seconds.
    """

    checks: dict[str, Callable[[], Awaitable[object]]] = field(default_factory=dict)
    timeout_s: float = CHECK_TIMEOUT_S
    draining: bool = False

    async def _one(self, check: Callable[[], Awaitable[object]]) -> str:
        task = asyncio.ensure_future(check())
        try:
            done, _ = await asyncio.wait({task}, timeout=self.timeout_s)
        finally:
            if not task.done():
                # Not awaited: a check stuck in its own cancellation (a frozen PostgreSQL
                # or Redis) must not hold the probe past its timeout.
                task.cancel()
                task.add_done_callback(_consume)
        if not done:
            return f"timed out after {self.timeout_s:g}s"
        exc = task.exception()
        if exc is not None:  # any failure means "not ready", and says why
            return (str(exc) if isinstance(exc, NotReady) else f"{type(exc).__name__}: {exc}")[:300]
        return "ok" if task.result() is not False else "failed"

    async def run(self) -> tuple[bool, dict[str, str]]:
        """Evaluate every check; returns (ready, {check: "ok" | reason})."""
        names = list(self.checks)
        results = await asyncio.gather(*(self._one(self.checks[n]) for n in names))
        report = dict(zip(names, results))
        report["draining"] = "yes" if self.draining else "ok"
        return all(r == "ok" for r in report.values()), report


def _consume(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()
