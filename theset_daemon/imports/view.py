"""An import as every client sees it: one camelCase shape for HTTP, SSE and webhooks
(:func:`import_view`), and the admin list's row (:func:`import_summary`).

::

    {"importId", "tmAttractionId", "artistId", "slug", "status", "stage", "progress",
     "message", "phases": {name: {"state", "progress", "counts", "error"}},
     "counts", "error", "createdAt", "updatedAt", "completedAt"}

``status`` is queued/running/completed/failed; ``stage`` the phase that
reported last; ``progress`` 0..100 never goes back. ``phases`` holds every
phase of :data:`~theset_daemon.imports.plan.PHASES` (``state`` pending,
enqueued, running, done or failed; ``progress`` 0..100), so a UI need not
parse messages; ``counts`` (overall and per phase) hold numbers only, keys in
camelCase; ``error`` is null or ``{code, message}``
(:mod:`theset_daemon.imports.errors`); timestamps are ISO-8601 with offset.
:func:`theset_daemon.store.imports.view_row` reads it in one statement.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

import orjson

from ..runtime.masking import Masker, masker
from ..store.imports import view_row
from .errors import ImportFailure
from .plan import PHASES

_MASK = masker()

#: States a phase can be in, as clients see them (``pending``: not handed out yet).
PHASE_STATES = ("pending", "enqueued", "running", "done", "failed")

def camel(key: str) -> str:
    """``catalog_live_albums_dropped`` -> ``catalogLiveAlbumsDropped`` (camelCase keys pass unchanged)."""
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def public_counts(raw: Any) -> dict[str, int | float]:
    """Counts with numbers only (booleans as 0/1; text, ids and nulls left out), keys in camelCase."""
    while isinstance(raw, (str, bytes)):  # text, or jsonb holding a JSON string (older phase rows)
        raw = orjson.loads(raw) if raw else {}
    out: dict[str, int | float] = {}
    for key, value in (raw.items() if isinstance(raw, dict) else ()):
        if isinstance(value, bool):
            out[camel(key)] = int(value)
        elif isinstance(value, (int, float)):
            out[camel(key)] = value
    return out


def public_error(value: Any) -> dict[str, str] | None:
    """A stored error as ``{code, message}`` (URL credentials and secret query values in the message masked)."""
    failure = ImportFailure.parse(value)
    return {"code": failure.code, "message": _MASK.text(failure.message)} if failure else None


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def phase_views(raw: Any) -> dict[str, dict[str, Any]]:
    """Every phase's ``{state, progress, counts, error}`` from ``import_phases`` rows by name."""
    rows = orjson.loads(raw) if isinstance(raw, (str, bytes)) else (raw or {})
    views = {}
    for phase in PHASES:
        row = rows.get(phase.name)
        if row is None:
            views[phase.name] = {"state": "pending", "progress": 0, "counts": {}, "error": None}
            continue
        state = row.get("state") or "pending"
        progress = 100 if state == "done" else int(round(100 * float(row.get("fraction") or 0)))
        views[phase.name] = {
            "state": state, "progress": progress, "counts": public_counts(row.get("counts")),
            "error": public_error(row.get("error")),
        }
    return views


def import_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """The import, as clients see it, from a row of ``store.imports.VIEW_COLUMNS``."""
    counts = row["counts"]
    raw_counts = orjson.loads(counts) if isinstance(counts, (str, bytes)) else (counts or {})
    return {
        "importId": str(row["id"]),
        "tmAttractionId": row["tm_attraction_id"],
        "artistId": str(row["artist_id"]) if row["artist_id"] else None,
        "slug": row["slug"] or raw_counts.get("slug"),
        "status": row["status"],
        "stage": row["stage"],
        "progress": row["progress"],
        "message": row["message"] or "",
        "phases": phase_views(row["phases"]),
        "counts": public_counts(raw_counts),
        "error": public_error(row["error"]),
        "createdAt": _iso(row["created_at"]),
        "updatedAt": _iso(row["updated_at"]),
        "completedAt": _iso(row["completed_at"]),
    }


def epoch_ms(value: datetime | str | None) -> int | None:
    """A timestamp as the admin API shows it: ms since the epoch (None stays None)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return int(moment.timestamp() * 1000)


def import_summary(row: Mapping[str, Any], *, mask: Masker = _MASK) -> dict[str, Any]:
    """An import as the admin list shows it (``AdminImport``: no phases or counts, ``owner``, times in
    ms since the epoch), from a row of :func:`~theset_daemon.store.imports.list_imports`; ``mask``
    hides secrets in the error (the daemon's, with its configured secrets)."""
    return {
        "importId": str(row["id"]),
        "tmAttractionId": row["tm_attraction_id"],
        "status": row["status"],
        "stage": row["stage"],
        "progress": row["progress"],
        "message": row["message"],
        "artistId": str(row["artist_id"]) if row["artist_id"] else None,
        "owner": row["owner"],
        "error": mask.value(public_error(row["error"])),
        "createdAt": epoch_ms(row["created_at"]),
        "updatedAt": epoch_ms(row["updated_at"]),
        "completedAt": epoch_ms(row["completed_at"]),
    }


async def load_import_view(db: Any, import_id: str) -> dict[str, Any] | None:
    """The import's view, or None when there is no such import."""
    row = await view_row(db, import_id)
    return import_view(row) if row is not None else None
