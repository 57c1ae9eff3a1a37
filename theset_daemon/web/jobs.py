"""The jobs API: one job's record (with its log), job search in pages, and per-job actions.

Admin token or dashboard session (:func:`require_admin`); actions are logged
with who asked. Times are ms since the epoch (Redis clock) or null.
"""

from __future__ import annotations

from aiohttp import web

from ..broker.admin import STATES, JobFilter, JobStateConflict, UnknownJob
from .admin_auth import require_admin
from .admin_common import audit, conflict, known_queue, not_found, query_int, queue_admin
from .errors import InvalidRequest, json_response

#: Longest page of ``GET /api/jobs``.
MAX_LIMIT = 200
#: Longest ``actor`` or ``q`` filter.
MAX_TEXT = 200


async def list_jobs(request: web.Request) -> web.Response:
    """GET /api/jobs?queue=&state=&actor=&q=&since=&until=&limit=&cursor= — a job search, every filter optional.

    ``q`` is a case-insensitive substring of the arguments (the encoded message) or
    the error; ``since``/``until`` bound the enqueue time (ms). Newest first within
    each queue and state; ``nextCursor`` null on the last page (a page may be short
    and still have one when the scan budget ran out).
    """
    await require_admin(request)
    admin = queue_admin(request)
    queue = request.query.get("queue") or None
    if queue is not None:
        queue = known_queue(admin, queue)
    state = request.query.get("state") or None
    if state is not None and state not in STATES:
        raise InvalidRequest("state", f"one of {', '.join(STATES)}")
    where = JobFilter(
        queue=queue, state=state, actor=_text(request, "actor"), text=_text(request, "q"),
        since=_ms(request, "since"), until=_ms(request, "until"),
    )
    if where.since is not None and where.until is not None and where.since > where.until:
        raise InvalidRequest("until", "must not be before since")
    limit = query_int(request, "limit", 50, 1, MAX_LIMIT)
    cursor = request.query.get("cursor") or None
    try:
        jobs, next_cursor = await admin.search(where, limit=limit, cursor=cursor)
    except ValueError as exc:
        raise InvalidRequest("cursor", str(exc)) from None
    return json_response({"jobs": jobs, "nextCursor": next_cursor})


def _text(request: web.Request, name: str) -> str | None:
    value = request.query.get(name) or None
    if value is not None and len(value) > MAX_TEXT:
        raise InvalidRequest(name, f"at most {MAX_TEXT} characters")
    return value


def _ms(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name) or None
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 16:
        raise InvalidRequest(name, "expected ms since the epoch (a non-negative integer)")
    return int(raw)


async def get_job(request: web.Request) -> web.Response:
    """GET /api/jobs/{job_id} — state, attempts, timings, progress, error and history of one job."""
    await require_admin(request)
    try:
        return json_response(await queue_admin(request).job(request.match_info["job_id"]))
    except UnknownJob as exc:
        raise not_found(exc) from None


async def _act(request: web.Request, verb: str) -> web.Response:
    who = await require_admin(request, mutation=True)
    job_id = request.match_info["job_id"]
    admin = queue_admin(request)
    try:
        summary = await getattr(admin, verb)(job_id)
    except UnknownJob as exc:
        raise not_found(exc) from None
    except JobStateConflict as exc:
        raise conflict(exc) from None
    audit(request, who, f"job.{verb}", job_id=job_id, queue=summary["queue"])
    return json_response(summary)


async def retry_job(request: web.Request) -> web.Response:
    """POST /api/jobs/{job_id}/retry — a failed or dead job back to waiting (409 otherwise)."""
    return await _act(request, "retry")


async def promote_job(request: web.Request) -> web.Response:
    """POST /api/jobs/{job_id}/promote — a delayed job runs now (409 otherwise)."""
    return await _act(request, "promote")


async def delete_job(request: web.Request) -> web.Response:
    """DELETE /api/jobs/{job_id} — remove a job that is not running (409 while active)."""
    return await _act(request, "delete")

