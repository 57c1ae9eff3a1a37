"""The cluster-wide gauges, exported by one daemon: the holder of the metrics lead.

Queue depths, the oldest waiting and running job per queue, paused queues and
Redis memory describe the cluster, not a daemon; if every daemon exported them,
``sum()`` over instances would count them once per daemon. At each scrape a
daemon claims the lead (``ns:metrics:leader``, ``SET PX`` :data:`METRICS_LEAD_S`
inside the depths script): the holder sets the gauges, every other daemon
clears them, so each series is exported exactly once. A leader that is no
longer scraped (stopped, crashed) loses the lead after :data:`METRICS_LEAD_S`
and the next scraped daemon takes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .metrics import (CLUSTER_GAUGES, CLUSTER_LEADER, QUEUE_DEPTH, QUEUE_OLDEST_ACTIVE, QUEUE_OLDEST_WAITING,
                      QUEUE_PAUSED, QUEUE_WAITING, REDIS_MEMORY)
from .queues import Priority

if TYPE_CHECKING:
    from .broker import TheSetBroker

#: Seconds the lead lasts without a scrape (more than two 30 s scrape intervals).
METRICS_LEAD_S = 75


async def export(broker: TheSetBroker) -> dict[str, dict[str, Any]]:
    """Claim the lead; set the cluster gauges if held, else clear them. Returns the depths per queue."""
    lead, depths = await broker.read_depths(lead_ms=METRICS_LEAD_S * 1000)
    CLUSTER_LEADER.set(1 if lead else 0)
    if not lead:
        for gauge in CLUSTER_GAUGES:
            gauge.clear()
        return depths
    for queue, row in depths.items():
        for state in ("waiting", "delayed", "active", "dead"):
            QUEUE_DEPTH.labels(queue, state).set(row[state])
        for priority in Priority:
            QUEUE_WAITING.labels(queue, priority.name).set(row[priority.name])
        QUEUE_PAUSED.labels(queue).set(row["paused"])
        QUEUE_OLDEST_WAITING.labels(queue).set(max(0, row["oldest_waiting_ms"]) / 1000)
        QUEUE_OLDEST_ACTIVE.labels(queue).set(max(0, row["oldest_active_ms"]) / 1000)
    memory = await broker.aredis.info("memory")
    REDIS_MEMORY.labels("used").set(memory.get("used_memory", 0))
    REDIS_MEMORY.labels("max").set(memory.get("maxmemory", 0))
    return depths
