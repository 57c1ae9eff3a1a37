"""Queue pauses (``queue_pauses``): the cluster's record of which queues an operator paused."""

from __future__ import annotations

from .connection import Db


async def set_paused(db: Db, queue: str, paused: bool, who: str = "") -> None:
    """Record ``queue`` as paused by ``who`` (kept if it already was), or drop its record."""
    if paused:
        await db.execute(
            "insert into queue_pauses (queue, paused_by) values ($1, $2) on conflict (queue) do nothing", queue, who
        )
    else:
        await db.execute("delete from queue_pauses where queue = $1", queue)


async def paused_queues(db: Db) -> list[str]:
    return [r["queue"] for r in await db.fetch("select queue from queue_pauses")]
