"""The shapes of a queue table: priorities, one queue's row, the job defaults.

The broker is given its table (``TheSetBroker(queues=...)``, ``Worker(queues=...)``);
TheSet's own is :data:`theset_daemon.queues.QUEUES`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Priority(enum.IntEnum):
    """Per-message priority; a lower value runs first when a queue has a backlog."""

    CRITICAL = 0
    HIGH = 1
    NORMAL = 2
    LOW = 3
    BACKGROUND = 4

    @classmethod
    def parse(cls, value: "Priority | int | str") -> "Priority":
        """Accept a member, its int value or its (case-insensitive) name.

        Raises:
          ValueError: naming the accepted values.
        """
        if isinstance(value, Priority):
            return value
        if isinstance(value, str) and not value.isdigit():
            try:
                return cls[value.upper()]
            except KeyError:
                pass
        else:
            try:
                return cls(int(value))
            except ValueError:
                pass
        names = ", ".join(p.name for p in cls)
        raise ValueError(f"unknown priority {value!r}; expected one of {names} or 0-4")


@dataclass(frozen=True)
class QueueSpec:
    """One row of the queue table.

    Parameters:
      name: the Dramatiq queue name.
      concurrency: jobs run at once by one daemon for this queue.
      rate_per_s: cluster-wide starts per second (all daemons together), or None.
      priority: the default priority of a message sent to this queue.
    """

    name: str
    concurrency: int
    rate_per_s: float | None
    priority: Priority


@dataclass(frozen=True)
class JobDefaults:
    """Defaults for every job; each is overridable per actor and per message.

    Parameters:
      max_attempts: attempts before a message is dead-lettered (3).
      min_backoff_ms: first retry delay in milliseconds (2000), doubled per attempt.
      max_backoff_ms: cap on any retry delay in milliseconds (300000).
      jitter: fraction of the backoff added at random, 0..1 (0.25).
      completed_ttl_s: how long completed job records are kept, seconds (3600).
      completed_max_per_queue: completed job records kept per queue (100).
      failed_ttl_s: how long failed job records are kept, seconds (86400).
      dead_ttl_s: how long dead letters are kept, seconds (7 days).
    """

    max_attempts: int = 3
    min_backoff_ms: int = 2_000
    max_backoff_ms: int = 300_000
    jitter: float = 0.25
    completed_ttl_s: int = 3_600
    completed_max_per_queue: int = 100
    failed_ttl_s: int = 86_400
    dead_ttl_s: int = 7 * 86_400
