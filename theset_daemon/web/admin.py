"""The admin API: queues, dead letters, schedules and imports, for the dashboard and scripts.

Every route needs the admin token or a dashboard session (:func:`require_admin`);
actions also need the session's CSRF token and are refused in read-only mode.
Each action is logged with who asked (``token`` or ``session``) and from where.
The numbers come from :class:`~theset_daemon.broker.admin.QueueAdmin`, the same
code the terminal's ``theset-daemon queues`` uses. Times are ms since the epoch.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

from aiohttp import web

from ..imports.signing import events_url as signed_events_url
from ..imports.view import epoch_ms, import_summary
from ..jobs import schedule_manual_id
from ..runtime import pauses
from ..runtime.masking import masker
from ..scheduling.scheduler import schedule_status
from ..store.imports import list_imports
from .admin_auth import require_admin
from .admin_common import audit, known_queue, query_int, queue_admin
from .errors import InvalidRequest, json_response
from .imports import read_json_object
from .keys import SCHEDULES, SESSIONS, SETTINGS, booted

#: Most job ids one ``POST /api/admin/dlq/retry`` may name.
MAX_RETRY_IDS = 1000


# -- queues ----------------------------------------------------------------------------------


async def queues(request: web.Request) -> web.Response:
    """GET /api/admin/queues — every queue's counts, pause state, throughput; every daemon's heartbeat."""
    await require_admin(request)
    return json_response(await queue_admin(request).overview())


async def queue_action(request: web.Request) -> web.Response:
    """POST /api/admin/queues/{queue}/{action} — pause, resume, clean, purge or retry-failed."""
    who = await require_admin(request, mutation=True)
    admin = queue_admin(request)
    queue = known_queue(admin, request.match_info["queue"])
    action = request.match_info["action"]
    older_than_s = None
    if action == "clean" and request.query.get("olderThanS", "") != "":
        try:
            older_than_s = float(request.query["olderThanS"])
        except ValueError:
            older_than_s = -1.0
        if not 0 <= older_than_s <= 365 * 86400:
            raise InvalidRequest("olderThanS", "expected seconds, 0 to 31536000")
    if action in ("pause", "resume"):  # kept in PostgreSQL too: a flag Redis loses comes back (runtime/pauses.py)
        await pauses.record(booted(request).pool, queue, action == "pause", who)
    affected = await admin.queue_action(queue, action, older_than_s=older_than_s)
    audit(request, who, f"queue.{action}", queue=queue, affected=affected)
    return json_response({"queue": queue, "action": action, "affected": affected})


# -- dead letters ----------------------------------------------------------------------------


async def dead_letters(request: web.Request) -> web.Response:
    """GET /api/admin/dlq?queue=&limit=&cursor= — dead letters newest first, with why they died; ``nextCursor``."""
    await require_admin(request)
    admin = queue_admin(request)
    queue = request.query.get("queue") or None
    if queue is not None:
        known_queue(admin, queue)
    limit = query_int(request, "limit", 50, 1, 200)
    try:
        cursor = request.query.get("cursor") or None
        letters, next_cursor = await admin.dead_letter_page(queue, limit=limit, cursor=cursor)
    except ValueError as exc:
        raise InvalidRequest("cursor", str(exc)) from None
    return json_response({"deadLetters": letters, "nextCursor": next_cursor})


async def retry_dead_letters(request: web.Request) -> web.Response:
    """POST /api/admin/dlq/retry — body ``{"jobId"}``, ``{"jobIds": [...]}`` or ``{"queue"}``."""
    who = await require_admin(request, mutation=True)
    admin = queue_admin(request)
    body = await read_json_object(request)
    given = [name for name in ("jobId", "jobIds", "queue") if name in body]
    unknown = sorted(set(body) - {"jobId", "jobIds", "queue"})
    if unknown:
        raise InvalidRequest(unknown[0], "unknown field; send one of jobId, jobIds or queue")
    if len(given) != 1:
        raise InvalidRequest("body", "send exactly one of jobId, jobIds or queue")
    if "queue" in body:
        if not isinstance(body["queue"], str):
            raise InvalidRequest("queue", "expected a queue name")
        queue = known_queue(admin, body["queue"])
        retried = await admin.retry_dead_queue(queue)
        audit(request, who, "dlq.retry", queue=queue, affected=retried)
        return json_response({"retried": retried})
    ids = [body["jobId"]] if "jobId" in body else body["jobIds"]
    field = given[0]
    if not isinstance(ids, list) or not ids or len(ids) > MAX_RETRY_IDS:
        raise InvalidRequest(field, f"expected a list of 1-{MAX_RETRY_IDS} job ids")
    if not all(isinstance(i, str) and 0 < len(i) <= 512 for i in ids):
        raise InvalidRequest(field, "job ids are non-empty strings of at most 512 characters")
    retried = await admin.retry_dead(ids)
    audit(request, who, "dlq.retry", job_ids=ids[:20], affected=retried)
    return json_response({"retried": retried})


async def purge_dead_letters(request: web.Request) -> web.Response:
    """DELETE /api/admin/dlq?queue= — drop the dead letters of one queue, or of every queue."""
    who = await require_admin(request, mutation=True)
    admin = queue_admin(request)
    queue = request.query.get("queue") or None
    if queue is not None:
        known_queue(admin, queue)
    purged = await admin.purge_dead(queue)
    audit(request, who, "dlq.purge", queue=queue or "*", affected=purged)
    return json_response({"purged": purged})


# -- schedules -------------------------------------------------------------------------------


async def schedules(request: web.Request) -> web.Response:
    """GET /api/admin/schedules — each schedule's cron, last run and outcome, next run."""
    await require_admin(request)
    rows = await schedule_status(booted(request).pool, request.app[SCHEDULES])
    return json_response({
        "schedules": [
            {
                "name": r["name"], "cron": r["cron"], "timezone": r["timezone"], "actor": r["actor"],
                "queue": r["queue"], "priority": r["priority"], "lastRunAt": epoch_ms(r["last_fire"]),
                "lastOutcome": r["last_outcome"], "lastJobId": r["last_job_id"], "nextRunAt": epoch_ms(r["next_fire"]),
            }
            for r in rows
        ]
    })


async def run_schedule(request: web.Request) -> web.Response:
    """POST /api/admin/schedules/{name}/run — enqueue the schedule's job now (202 with its job id)."""
    who = await require_admin(request, mutation=True)
    name = request.match_info["name"]
    schedule = next((s for s in request.app[SCHEDULES] if s.name == name), None)
    if schedule is None:
        raise web.HTTPNotFound(text=f"no schedule {name!r}")
    admin = queue_admin(request)
    job_id = schedule_manual_id(name, datetime.now())
    message = await admin.broker.enqueue_async(schedule.message(job_id))
    job_id = message.options.get("job_id", job_id)
    audit(request, who, "schedule.run", schedule=name, job_id=job_id)
    return json_response({"jobId": job_id}, status=202)


# -- sessions --------------------------------------------------------------------------------


async def revoke_sessions(request: web.Request) -> web.Response:
    """POST /api/admin/sessions/revoke — sign out everywhere: every dashboard session ends (this one too)."""
    who = await require_admin(request, mutation=True, readonly_ok=True)
    revoked = await request.app[SESSIONS].revoke_all()
    audit(request, who, "sessions.revoke", affected=revoked)
    return json_response({"revoked": revoked})


# -- imports ---------------------------------------------------------------------------------


async def imports(request: web.Request) -> web.Response:
    """GET /api/admin/imports?limit=&cursor= — running imports first, then the most recent, with signed SSE
    URLs; ``nextCursor`` pages on."""
    await require_admin(request)
    limit = query_int(request, "limit", 50, 1, 200)
    after = _import_cursor(request.query.get("cursor") or None)
    settings = request.app[SETTINGS]
    rows = await list_imports(booted(request).pool, limit + 1, *after)
    more, rows = len(rows) > limit, rows[:limit]
    mask = masker(settings.secrets)
    out = []
    for row in rows:
        events = None
        if settings.sse_secret:
            events = signed_events_url(settings.public_url, settings.sse_secret, str(row["id"]),
                                       ttl_s=settings.sse_token_ttl)
        out.append({**import_summary(row, mask=mask), "eventsUrl": events})
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = _encode_import_cursor(last["running"], last["created_at"], str(last["id"]))
    return json_response({"imports": out, "nextCursor": next_cursor})


def _encode_import_cursor(running: int, created_at: datetime, import_id: str) -> str:
    text = f"{running}\n{created_at.isoformat()}\n{import_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _import_cursor(cursor: str | None) -> tuple[int | None, datetime | None, uuid.UUID | None]:
    """(running, created_at, id) after which the next page starts, or Nones; 400 naming ``cursor``."""
    if cursor is None:
        return None, None, None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        running, created_at, import_id = text.split("\n")
        return int(running), datetime.fromisoformat(created_at), uuid.UUID(import_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidRequest("cursor", "not a cursor from this API") from None

