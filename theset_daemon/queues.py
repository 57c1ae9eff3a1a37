"""The queue table of DESIGN.md, as data.

One place for each fact: the worker pools, the rate limiter, the admin API and
the docs all read :data:`QUEUES` and :class:`JobDefaults`; nothing else in the
code base spells out a concurrency, a rate or a retry count.
"""

from __future__ import annotations

from .broker.queues import JobDefaults, Priority, QueueSpec

__all__ = ["QUEUES", "QUEUES_BY_NAME", "JobDefaults", "Priority", "QueueSpec"]


QUEUES: tuple[QueueSpec, ...] = (
    QueueSpec("artist_import", 5, None, Priority.CRITICAL),
    QueueSpec("artist_quick_sync", 10, None, Priority.HIGH),
    QueueSpec("spotify_sync", 3, 30, Priority.HIGH),
    QueueSpec("spotify_catalog", 2, 20, Priority.LOW),
    QueueSpec("ticketmaster_sync", 3, 20, Priority.NORMAL),
    QueueSpec("venue_sync", 10, None, Priority.NORMAL),
    QueueSpec("setlist_sync", 2, 10, Priority.LOW),
    QueueSpec("image_processing", 5, None, Priority.BACKGROUND),
    QueueSpec("trending_calc", 1, None, Priority.BACKGROUND),
    QueueSpec("cache_warm", 5, None, Priority.BACKGROUND),
    QueueSpec("scheduled_sync", 3, None, Priority.NORMAL),
    QueueSpec("cleanup", 1, None, Priority.BACKGROUND),
    QueueSpec("progress_update", 20, None, Priority.HIGH),
    QueueSpec("webhook", 5, None, Priority.NORMAL),
)

QUEUES_BY_NAME: dict[str, QueueSpec] = {q.name: q for q in QUEUES}
