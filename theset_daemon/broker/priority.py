"""Which priority a message runs at.

A message's ``priority`` option (name or 0-4) wins; else its actor's
``default_priority`` option; else the queue table's default for the queue,
lowered by Dramatiq's ``@actor(priority=N)``: as in Dramatiq a higher N runs
later and 0 (Dramatiq's default) changes nothing, so N steps below the queue's
default, down to BACKGROUND at most.
"""

from __future__ import annotations

from typing import Any, Mapping

from .queues import Priority, QueueSpec


def resolve(
    options: Mapping[str, Any], actor_options: Mapping[str, Any], spec: QueueSpec | None, actor: Any = None
) -> Priority:
    """The effective priority of a message.

    Raises:
      ValueError: if an option names no priority.
    """
    value = options.get("priority")
    if value is None:
        value = actor_options.get("default_priority")
    if value is None:
        base = spec.priority if spec is not None else Priority.NORMAL
        steps = getattr(actor, "priority", 0) or 0
        return base if steps <= 0 else Priority(min(Priority.BACKGROUND, base + int(steps)))
    return Priority.parse(value)
