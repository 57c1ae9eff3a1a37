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

from ..store import import_phases
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
    await import_phases.insert_enqueued(conn, import_id, phases)


async def mark_started(conn: asyncpg.Connection, import_id: str, phase: str) -> None:
    await import_phases.upsert_started(conn, import_id, phase)


async def record_fraction(
    conn: asyncpg.Connection, import_id: str, phase: str, fraction: float, counts: dict[str, Any] | None = None
) -> int:
    """Store how far a phase has got (never backwards) and merge its counts; return the import's progress."""
    await import_phases.raise_fraction(conn, import_id, phase, min(1.0, max(0.0, fraction)), counts or {})
    rows = await import_phases.phase_rows(conn, import_id)
    return overall_progress({r["phase"]: r["fraction"] for r in rows if r["phase"] in PHASES_BY_NAME})


async def mark_done(conn: asyncpg.Connection, import_id: str, phase: str, counts: dict[str, Any]) -> PhaseOutcome:
    """Record a phase's end and hand out what it unlocked (idempotent on re-run)."""
    async with conn.transaction():
        await import_phases.lock_import(conn, import_id)
        await import_phases.upsert_done(conn, import_id, phase, counts)
        rows = await import_phases.phase_rows(conn, import_id)
        done = [r["phase"] for r in rows if r["state"] == "done"]
        handed_out = [r["phase"] for r in rows if r["state"] != "done"]
        ready = ready_phases(done, started=handed_out)
        await mark_enqueued(conn, import_id, [p.name for p in ready])
    fractions = {r["phase"]: r["fraction"] for r in rows}
    return PhaseOutcome(ready, is_complete(done), overall_progress(fractions))


async def mark_failed(conn: asyncpg.Connection, import_id: str, phase: str, error: str) -> None:
    await import_phases.upsert_failed(conn, import_id, phase, error)
