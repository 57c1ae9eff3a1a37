"""Which priority a message runs at.

A message's ``priority`` option (name or 0-4) wins; else its actor's
``default_priority`` option; else the queue table's default for the queue.
Dramatiq's own ``@actor(priority=...)`` integer is not used: it orders messages
inside one process only, and its default of 0 would read as CRITICAL.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..queues import Priority, QueueSpec


def resolve(options: Mapping[str, Any], actor_options: Mapping[str, Any], spec: QueueSpec | None) -> Priority:
    """The effective priority of a message.

    Raises:
      ValueError: if an option names no priority.
    """
    value = options.get("priority")
    if value is None:
        value = actor_options.get("default_priority")
    if value is None:
        return spec.priority if spec is not None else Priority.NORMAL
    return Priority.parse(value)
