"""Where each import stands, phase by phase, in PostgreSQL.

Phases run on different queues and hosts at once; the import's row in
``import_status`` is locked (``FOR UPDATE``) while a phase records its end,
so exactly one finishing phase sees the import complete and each dependent
phase is handed out once. Every function takes a connection and plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from .plan import PHASES_BY_NAME, Phase, is_complete, overall_progress, ready_phases


@dataclass(frozen=True)
class PhaseOutcome:
    """What finishing a phase unlocked.

    Parameters:
      ready: phases whose inputs are now all done, to be enqueued by the caller.
      complete: every phase of the import is done.
      progress: the import's progress bar after this phase (0-99).
    """

    ready: list[Phase]
    complete: bool
    progress: int


async def mark_enqueued(conn: asyncpg.Connection, import_id: str, phases: list[str]) -> None:
    """Record phases as enqueued (a phase already further along is left alone)."""
    await conn.executemany(
        """insert into import_phases (import_id, phase, state) values ($1, $2, 'enqueued')
           on conflict (import_id, phase) do nothing""",
        [(import_id, name) for name in phases],
    )


async def mark_started(conn: asyncpg.Connection, import_id: str, phase: str) -> None:
    await conn.execute(
        """insert into import_phases (import_id, phase, state, started_at) values ($1, $2, 'running', now())
           on conflict (import_id, phase) do update
           set state = case when import_phases.state = 'done' then 'done' else 'running' end,
               started_at = coalesce(import_phases.started_at, now()), updated_at = now()""",
        import_id, phase,
    )


async def record_fraction(
    conn: asyncpg.Connection, import_id: str, phase: str, fraction: float, counts: dict[str, Any] | None = None
) -> int:
    """Store how far a phase has got (never backwards) and merge its counts; return the import's progress."""
    await conn.execute(
        """update import_phases set fraction = greatest(fraction, $3), counts = counts || $4::text::jsonb, updated_at = now()
           where import_id = $1 and phase = $2""",
        import_id, phase, min(1.0, max(0.0, fraction)), orjson.dumps(counts or {}).decode(),
    )
    return overall_progress(await _fractions(conn, import_id))


async def mark_done(conn: asyncpg.Connection, import_id: str, phase: str, counts: dict[str, Any]) -> PhaseOutcome:
    """Record a phase's end and hand out what it unlocked (idempotent on re-run)."""
    async with conn.transaction():
        await conn.execute("select 1 from import_status where id = $1 for update", import_id)
        await conn.execute(
            """insert into import_phases (import_id, phase, state, fraction, counts, started_at, finished_at)
               values ($1, $2, 'done', 1, $3::text::jsonb, now(), now())
               on conflict (import_id, phase) do update
               set state = 'done', fraction = 1, counts = excluded.counts,
                   finished_at = now(), updated_at = now()""",
            import_id, phase, orjson.dumps(counts).decode(),
        )
        rows = await conn.fetch("select phase, state, fraction from import_phases where import_id = $1", import_id)
        done = [r["phase"] for r in rows if r["state"] == "done"]
        handed_out = [r["phase"] for r in rows if r["state"] != "done"]
        ready = ready_phases(done, started=handed_out)
        await mark_enqueued(conn, import_id, [p.name for p in ready])
    fractions = {r["phase"]: r["fraction"] for r in rows}
    return PhaseOutcome(ready, is_complete(done), overall_progress(fractions))


async def mark_failed(conn: asyncpg.Connection, import_id: str, phase: str, error: str) -> None:
    await conn.execute(
        """insert into import_phases (import_id, phase, state, error, finished_at) values ($1, $2, 'failed', $3, now())
           on conflict (import_id, phase) do update set state = 'failed', error = $3, finished_at = now(), updated_at = now()""",
        import_id, phase, error,
    )


async def _fractions(conn: asyncpg.Connection, import_id: str) -> dict[str, float]:
    rows = await conn.fetch("select phase, fraction from import_phases where import_id = $1", import_id)
    return {r["phase"]: r["fraction"] for r in rows if r["phase"] in PHASES_BY_NAME}
