"""The jobs API: one job's record, pages of a queue's jobs by state, and per-job actions.

Admin token or dashboard session (:func:`require_admin`); actions are logged
with who asked. Times are ms since the epoch (Redis clock) or null.
"""

from __future__ import annotations

from aiohttp import web

from ..broker.admin import STATES, JobStateConflict, UnknownJob
from .admin import audit, conflict, known_queue, not_found, query_int, queue_admin
from .admin_auth import require_admin
from .errors import InvalidRequest, json_response

#: Longest page of ``GET /api/jobs``.
MAX_LIMIT = 200


async def list_jobs(request: web.Request) -> web.Response:
    """GET /api/jobs?queue=&state=&limit=&cursor= — newest first, ``nextCursor`` null on the last page."""
    await require_admin(request)
    admin = queue_admin(request)
    queue = request.query.get("queue", "")
    if not queue:
        raise InvalidRequest("queue", "required: a queue name")
    queue = known_queue(admin, queue)
    state = request.query.get("state", "")
    if state not in STATES:
        raise InvalidRequest("state", f"required: one of {', '.join(STATES)}")
    limit = query_int(request, "limit", 50, 1, MAX_LIMIT)
    cursor = request.query.get("cursor") or None
    try:
        jobs, next_cursor = await admin.jobs(queue, state, limit=limit, cursor=cursor)
    except ValueError as exc:
        raise InvalidRequest("cursor", str(exc)) from None
    return json_response({"jobs": jobs, "nextCursor": next_cursor})


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


ROUTES = [
    web.get("/api/jobs", list_jobs),
    web.get("/api/jobs/{job_id}", get_job),
    web.post("/api/jobs/{job_id}/retry", retry_job),
    web.post("/api/jobs/{job_id}/promote", promote_job),
    web.delete("/api/jobs/{job_id}", delete_job),
]
