"""The actors the daemon ships, as the tests of the job catalogue and of the schedules read them."""

from __future__ import annotations

import dramatiq

import theset_daemon.actors


def shipped_actors() -> dict[str, str]:
    """Each actor of the shipped actor modules -> its queue (read from the actor objects: the global
    broker they were declared on may have been replaced by another test since)."""
    modules = [getattr(theset_daemon.actors, name) for name in theset_daemon.actors.__all__]
    return {a.actor_name: a.queue_name for m in modules for a in vars(m).values() if isinstance(a, dramatiq.Actor)}
