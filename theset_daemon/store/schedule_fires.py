"""Schedule fires (``schedule_fires``): one row per fire of a schedule, claimed by exactly one host."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from .connection import Db

_CLAIM = """
insert into schedule_fires (name, fire_time, job_id, host_id, outcome, caught_up)
values ($1, $2, $3, $4, 'claimed', $5)
on conflict (name, fire_time) do nothing
returning true
"""
_SETTLE = "update schedule_fires set outcome = $3, error = $4 where name = $1 and fire_time = $2"
_LAST_FIRES = """
select distinct on (name) name, fire_time, job_id, host_id, outcome, caught_up, error, recorded_at
from schedule_fires where name = any($1::text[]) order by name, fire_time desc
"""


async def claim(db: Db, name: str, fire_time: datetime, job_id: str, host_id: str, caught_up: bool) -> bool:
    """Claim one fire of a schedule for this host: True for the one host that recorded it first."""
    return bool(await db.fetchval(_CLAIM, name, fire_time, job_id, host_id, caught_up))


async def settle(db: Db, name: str, fire_time: datetime, outcome: str, error: str | None) -> None:
    """Record what became of a claimed fire (``enqueued``, ``enqueue_failed``)."""
    await db.execute(_SETTLE, name, fire_time, outcome, error)


async def last_fires(db: Db, names: list[str]) -> dict[str, asyncpg.Record]:
    """The latest fire of each named schedule that has fired."""
    return {r["name"]: r for r in await db.fetch(_LAST_FIRES, names)}


async def delete_older_than(db: Db, days: int) -> int:
    """Delete fires older than ``days``; how many."""
    status = await db.execute("delete from schedule_fires where fire_time < now() - make_interval(days => $1)", days)
    return int(status.rsplit(" ", 1)[-1])
