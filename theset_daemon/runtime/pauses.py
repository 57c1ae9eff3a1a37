"""Queue pauses kept in PostgreSQL as well as Redis, so a pause flag Redis loses comes back.

Pause and resume (the admin API, the dashboard, the CLI) write ``queue_pauses``
first, then the Redis flag the fetch script reads. Every daemon re-asserts the
flags of the paused queues at boot and every :data:`REASSERT_S` seconds: an
evicted flag, a Redis restarted empty or a failover that lost the last writes
pauses the queue again within that time instead of letting it run.
"""

from __future__ import annotations

import asyncio
import logging
import asyncpg

from ..broker import TheSetBroker
from ..store import queue_pauses

logger = logging.getLogger(__name__)

#: Seconds between re-assertions of the paused queues' flags.
REASSERT_S = 5.0


async def record(pool: asyncpg.Pool, queue: str, paused: bool, who: str = "") -> None:
    """Remember that ``queue`` is paused (or not) for the whole cluster."""
    await queue_pauses.set_paused(pool, queue, paused, who)


async def reassert(pool: asyncpg.Pool, broker: TheSetBroker) -> list[str]:
    """Set the Redis flag of every queue paused in PostgreSQL (and in the queue table) whose flag is
    missing; returns those queues."""
    queues = [queue for queue in await queue_pauses.paused_queues(pool) if queue in broker.specs]
    restored = []
    for queue in queues:
        if not await broker.admin.is_paused(queue):
            await broker.admin.pause(queue)
            restored.append(queue)
    if restored:
        logger.warning("pause flags were missing in Redis (evicted or lost); paused again: %s", ", ".join(restored))
    return restored


async def watch(pool: asyncpg.Pool, broker: TheSetBroker) -> None:
    """:func:`reassert` every :data:`REASSERT_S` seconds for ever (failures are logged; the next pass retries)."""
    while True:
        try:
            await reassert(pool, broker)
        except Exception as exc:  # noqa: BLE001 - PostgreSQL or Redis away: readiness reports it
            logger.debug("could not re-assert pause flags: %s", exc)
        await asyncio.sleep(REASSERT_S)
