"""``GET /api/openapi.json``: the OpenAPI 3.0 document of the whole side server.

Built from the live app's facts (the queue table, the loaded schedules) so the
enums in the document are the queues and schedules this daemon knows. The
document itself is public: it holds no secret, and tools fetch it before they
authenticate. ``tests/web/test_openapi_fuzz.py`` fuzzes a running daemon from it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..broker.admin import QUEUE_ACTIONS, STATES
from ..imports.errors import CODES as IMPORT_ERROR_CODES
from ..imports.plan import PHASES
from ..imports.view import PHASE_STATES
from ..queues import Priority
from ..store.imports import STATUSES
from .admin_auth import CSRF_HEADER, SESSION_COOKIE
from .errors import json_response
from .keys import OPENAPI_DOCUMENT, QUEUE_ADMIN, SCHEDULES

SSE_DESCRIPTION = (
    "text/event-stream. `retry:` (ms, jittered per client), then `event: snapshot` whose `id:` is where the replay "
    "starts; `event: progress` for every change and `event: done` (status completed or failed) after which the "
    "stream ends, each with `id:` for Last-Event-ID; the data of all three is an Import. `: keepalive` comments "
    "while idle. `event: reconnect` (data ReconnectEvent, with `retry:`) when the daemon drains, the client fell "
    "behind or Redis/PostgreSQL is away: reconnect with Last-Event-ID, nothing is missed. The data schema of each "
    "event is in x-events."
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str] | None = None, **props: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    return schema


def _all(**props: Any) -> dict[str, Any]:
    """An object whose every property is required."""
    return _obj(list(props), **props)


STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
NUM = {"type": "number"}
ANY: dict[str, Any] = {}
MS = {"type": "integer", "format": "int64", "nullable": True, "description": "ms since the epoch"}
NSTR = {"type": "string", "nullable": True}
TIME = {"type": "string", "format": "date-time"}
NTIME = {"type": "string", "format": "date-time", "nullable": True}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


#: The answers that ask the client to come back later carry ``Retry-After`` (whole seconds).
RETRY_CODES = ("429", "503")
RETRY_AFTER = {"required": True, "description": "seconds to wait before retrying", "schema": {"type": "integer", "minimum": 0}}
#: What every operation that reads Redis, PostgreSQL or the booted daemon may answer.
UNAVAILABLE = ("unavailable: the daemon is still booting (error unavailable), or Redis or PostgreSQL does not "
               "answer (redis_unavailable, postgres_unavailable); retry after Retry-After")
#: What every operation behind a bearer token (or a dashboard session) may answer.
THROTTLED = "too many wrong tokens from this address: every authenticated request waits Retry-After"


def _error(description: str, code: str = "") -> dict[str, Any]:
    response = _json(_ref("Error"), description)
    if code in RETRY_CODES:
        response["headers"] = {"Retry-After": RETRY_AFTER}
    return response


ADMIN_SECURITY = [{"adminToken": []}, {"dashboardSession": []}]


def _op(summary: str, ok: dict[str, Any], *, status: str = "200", security: list | None = None,
        params: list | None = None, body: dict | None = None, errors: dict[str, str] | None = None,
        tag: str = "admin", unavailable: str | None = UNAVAILABLE) -> dict[str, Any]:
    """An operation answering ``ok`` with ``status``, each of ``errors`` (code: why) as a JSON error, and 503
    ``unavailable`` unless None (only for operations that touch no backend)."""
    responses = {status: ok}
    if unavailable is not None:
        errors = {**(errors or {}), "503": (errors or {}).get("503", unavailable)}
    for code, text in (errors or {}).items():
        responses[code] = _error(text, code)
    responses["default"] = _error("an error: {error, message, field?}")
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if security is not None:
        op["security"] = security
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def _admin(summary: str, ok: dict[str, Any], **kw: Any) -> dict[str, Any]:
    errors = {"401": "no admin token or session", "429": THROTTLED, **kw.pop("errors", {})}
    return _op(summary, ok, security=ADMIN_SECURITY, errors=errors, **kw)


def _mutation(summary: str, ok: dict[str, Any], **kw: Any) -> dict[str, Any]:
    errors = {"403": "read-only mode", **kw.pop("errors", {})}
    op = _admin(summary + f" (a dashboard session also sends {CSRF_HEADER})", ok, errors=errors, **kw)
    return op


def _query(name: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def _path(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def _schemas(queues: list[str]) -> dict[str, Any]:
    priority = {"type": "string", "enum": [p.name for p in Priority]}
    state = {"type": "string", "enum": list(STATES)}
    summary = _all(
        jobId=STR, queue=NSTR, actor=NSTR, state={"type": "string"}, priority={**priority, "nullable": True},
        attempts=INT, enqueuedAt=MS, startedAt=MS, finishedAt=MS, dueAt=MS, error=NSTR,
    )
    return {
        "Error": _obj(["error", "message"], error=STR, message=STR, field=STR, reason=STR),
        "Readiness": _obj(["ready", "checks"], ready=BOOL, checks={"type": "object", "additionalProperties": STR},
                          error={**STR, "description": "not_ready, when not ready"},
                          message={**STR, "description": "the failing checks, when not ready"}),
        "Priority": priority,
        "JobState": state,
        "Counts": _all(**{s: INT for s in STATES}),
        "Queue": _all(
            name={"type": "string", "enum": queues}, concurrency=INT, rateLimit={"type": "number", "nullable": True},
            defaultPriority=priority, paused=BOOL, counts=_ref("Counts"),
            waitingByPriority=_all(**{p.name: INT for p in Priority}),
            oldestWaitingAgeS={"type": "number", "nullable": True},
            throughputPerMin={"type": "array", "items": INT, "minItems": 15, "maxItems": 15,
                              "description": "jobs completed per minute, the last 15 minutes, oldest first"},
            servedBy={"type": "array", "items": _all(hostId=STR, concurrency=INT),
                      "description": "live daemons consuming this queue (THESET_QUEUES), with their concurrency"},
            unserved={**BOOL, "description": "jobs wait or come due and no live daemon consumes this queue"},
        ),
        "Daemon": _all(hostId=STR, alive=BOOL, lastHeartbeat=INT, active=INT,
                       activeJobs={"type": "array", "items": STR}),
        "QueuesResponse": _all(queues={"type": "array", "items": _ref("Queue")},
                               daemons={"type": "array", "items": _ref("Daemon")}),
        "QueueActionResult": _all(queue=STR, action={"type": "string", "enum": list(QUEUE_ACTIONS)}, affected=INT),
        "JobSummary": summary,
        "JobsPage": _all(jobs={"type": "array", "items": _ref("JobSummary")}, nextCursor=NSTR),
        "Job": _all(
            jobId=STR, queue=NSTR, actor=NSTR, state=NSTR, priority={**priority, "nullable": True}, attempts=INT,
            maxAttempts=INT, args={"type": "array", "items": ANY}, kwargs={"type": "object"},
            options={"type": "object"}, enqueuedAt=MS, startedAt=MS, finishedAt=MS, dueAt=MS, progress=ANY,
            error=NSTR, excType=NSTR, traceback=NSTR, owner=NSTR, requestedBy=ANY, failures=INT,
            firstFailedAt=MS, lastFailedAt=MS, reason=NSTR, runs=INT, handbacks=INT, reclaims=INT,
            postpones=INT, history={"type": "array", "items": _all(state=STR, at=INT)},
            logs={"type": "array", "description": "the job's log lines (current_job().log), oldest first",
                  "items": _all(at={"type": "integer", "nullable": True}, attempt={"type": "integer", "nullable": True},
                                text=STR)},
            logsDropped={"type": "integer", "description": "older log lines let go (the record keeps 32 KiB)"},
        ),
        "DeadLetter": _all(
            jobId=STR, queue=NSTR, actor=NSTR, reason=NSTR, error=NSTR, excType=NSTR, attempts=INT,
            firstFailedAt=MS, lastFailedAt=MS, args={"type": "array", "items": ANY}, kwargs={"type": "object"},
        ),
        "DlqRetryRequest": {
            "type": "object",
            "description": "exactly one of jobId, jobIds or queue",
            "properties": {
                "jobId": {"type": "string", "minLength": 1, "maxLength": 512},
                "jobIds": {"type": "array", "minItems": 1, "maxItems": 1000,
                           "items": {"type": "string", "minLength": 1, "maxLength": 512}},
                "queue": {"type": "string", "enum": queues},
            },
            "minProperties": 1,
            "maxProperties": 1,
            "additionalProperties": False,
        },
        "Schedule": _all(name=STR, cron=STR, timezone=STR, actor=STR, queue=STR, priority=priority,
                         lastRunAt=MS, lastOutcome=NSTR, lastJobId=NSTR, nextRunAt=MS),
        "AdminImport": _all(
            importId=STR, tmAttractionId=STR, status={"type": "string", "enum": list(STATUSES)}, stage=STR, progress=INT, message=STR, artistId=NSTR,
            owner=NSTR, error=_ref("ImportError"), createdAt=MS, updatedAt=MS, completedAt=MS, eventsUrl=NSTR,
        ),
        "MetricSample": _all(labels={"type": "object", "additionalProperties": STR},
                             value={"oneOf": [NUM, {"type": "string", "enum": ["NaN", "+Inf", "-Inf"]}]}),
        "MetricsJson": _all(
            metrics={"type": "object", "additionalProperties": {"type": "array", "items": _ref("MetricSample")}},
            help={"type": "object", "additionalProperties": STR},
            types={"type": "object", "additionalProperties": STR},
        ),
        **_import_schemas(),
        "KickoffRequest": {
            "type": "object",
            "required": ["tmAttractionId"],
            "properties": {
                "tmAttractionId": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                "owner": {"type": "string", "pattern": r"^[\w.@:-]{1,100}$"},
            },
            "additionalProperties": False,
        },
    }


def _import_schemas() -> dict[str, Any]:
    """The import's view (HTTP and every SSE event's data) and the other SSE event bodies."""
    percent = {"type": "integer", "minimum": 0, "maximum": 100}
    counts = {"type": "object", "additionalProperties": NUM, "description": "numbers only, camelCase keys"}
    phase = _all(state={"type": "string", "enum": list(PHASE_STATES)}, progress=percent, counts=_ref("ImportCounts"),
                 error=_ref("ImportError"))
    return {
        "ImportError": {
            "type": "object", "nullable": True, "required": ["code", "message"], "additionalProperties": False,
            "properties": {"code": {"type": "string", "enum": list(IMPORT_ERROR_CODES)}, "message": STR},
            "description": "why an import (or one phase) failed; branch on code, show message",
        },
        "ImportCounts": counts,
        "ImportPhase": phase,
        "Import": {**_all(
            importId=STR, tmAttractionId=STR, artistId=NSTR, slug=NSTR,
            status={"type": "string", "enum": list(STATUSES)},
            stage={"type": "string", "description": "the phase that reported last (phases tell them all)"},
            progress=percent, message=STR,
            phases={**_all(**{p.name: _ref("ImportPhase") for p in PHASES}), "additionalProperties": False},
            counts=_ref("ImportCounts"), error=_ref("ImportError"), createdAt=TIME, updatedAt=TIME, completedAt=NTIME,
        ), "description": "an import as the API, every SSE event (snapshot, progress, done) and webhooks show it"},
        "ReconnectEvent": _all(reason={"type": "string", "enum": ["shutdown", "behind", "unavailable"]}),
    }


#: The SSE stream's events and their ``data`` schemas (``x-events`` of the events operation).
SSE_EVENTS = {
    "snapshot": "Import", "progress": "Import", "done": "Import", "reconnect": "ReconnectEvent",
}


def _readyz() -> dict[str, Any]:
    """``/readyz``: public; a caller with the admin token sees why a check fails (and may be throttled)."""
    op = _op("route traffic here? (Bearer THESET_ADMIN_TOKEN shows why a check fails)",
             _json(_ref("Readiness"), "ready"), security=[], tag="operations",
             errors={"429": THROTTLED + " (a bearer token was sent)"})
    op["responses"]["503"] = {**_json(_ref("Readiness"), "not ready (booting, draining, Redis or PostgreSQL down): "
                                                         "the failing checks"),
                              "headers": {"Retry-After": RETRY_AFTER}}
    return op


def build_document(queues: list[str], schedules: list[str]) -> dict[str, Any]:
    """The OpenAPI 3.0.3 document, with ``queues`` and ``schedules`` as the path enums."""
    queue_param = _path("queue", {"type": "string", "enum": queues}, "a queue of the queue table")
    queue_query = _query("queue", {"type": "string", "enum": queues}, "only this queue")
    job_param = _path("jobId", {"type": "string", "minLength": 1}, "the job id")
    limit = _query("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, "page size, 1-200")
    cursor = _query("cursor", STR, "nextCursor of the previous page")
    not_found = {"404": "no such job"}
    paths: dict[str, Any] = {
        "/healthz": {"get": _op("the process and its event loop answer", _json(
            _all(status=STR, loop_lag_ms=NUM, max_loop_lag_ms=NUM, loop_lag_p99_ms=NUM, loop_lag_samples=INT), "alive"),
            security=[], tag="operations", unavailable=None)},
        "/readyz": {"get": _readyz()},
        "/metrics": {"get": _op("Prometheus text format (Bearer THESET_METRICS_TOKEN when that is set)",
                                {"description": "metrics", "content": {"text/plain": {"schema": STR}}},
                                security=[], tag="operations",
                                errors={"401": "THESET_METRICS_TOKEN is set", "429": THROTTLED + " (metrics token set)",
                                        "503": "Redis refused the failed-token count (read-only, out of memory)"})},
        "/metrics/json": {"get": _admin("the /metrics numbers as JSON", _json(_ref("MetricsJson"), "every sample"),
                                        tag="operations")},
        "/api/openapi.json": {"get": _op("this document", _json({"type": "object"}, "OpenAPI 3.0"), security=[],
                                         tag="operations", unavailable=None)},
        "/api/imports": {"post": _op(
            "start an artist import (a running one for the same attraction is returned)",
            _json({"allOf": [_ref("Import"), _all(eventsUrl=STR, statusUrl=STR)]}, "accepted"), status="202",
            security=[{"apiToken": []}], body=_ref("KickoffRequest"), tag="imports",
            errors={"400": "invalid body, naming the field", "401": "no API token", "413": "body over the size limit",
                    "429": THROTTLED,
                    "415": "not JSON", "503": "the daemon is still booting, or a backend does not answer (a kickoff "
                    "Redis cannot take is saved and answered 202, enqueued once Redis is back)"})},
        "/api/imports/{importId}": {"get": _op(
            "an import's status", _json(_ref("Import"), "the import"), security=[{"apiToken": []}], tag="imports",
            params=[_path("importId", {"type": "string", "format": "uuid"}, "the import id")],
            errors={"400": "not a UUID", "401": "no API token", "404": "no such import", "429": THROTTLED})},
        "/api/imports/{importId}/events": {"get": _op(
            "the import's progress as server-sent events (replay from Last-Event-ID)",
            {"description": SSE_DESCRIPTION, "content": {"text/event-stream": {
                "schema": STR, "x-events": {name: _ref(schema) for name, schema in SSE_EVENTS.items()}}}},
            security=[{"eventsToken": []}], tag="imports",
            params=[_path("importId", {"type": "string"}, "the import id"),
                    {"name": "Last-Event-ID", "in": "header", "required": False, "schema": STR,
                     "description": "resume after this event"}],
            errors={"401": "missing, expired or foreign token", "404": "no such import",
                    "503": "too_many_streams (this daemon's cap; Retry-After, jittered) or still booting (unavailable); "
                           "Redis or PostgreSQL away once streaming: event reconnect instead"})},
        "/api/admin/queues": {"get": _admin(
            "every queue: counts by state and priority, paused, oldest waiting age, throughput; every daemon",
            _json(_ref("QueuesResponse"), "the overview"))},
        "/api/admin/queues/{queue}/{action}": {"post": _mutation(
            "pause / resume (cluster-wide, persistent), clean (completed and failed records older than "
            "olderThanS, default their retention), purge (waiting and delayed jobs), retry-failed (every dead "
            "letter back to waiting, attempts reset)",
            _json(_ref("QueueActionResult"), "done"),
            params=[queue_param, _path("action", {"type": "string", "enum": list(QUEUE_ACTIONS)}, "the action"),
                    _query("olderThanS", {"type": "number", "minimum": 0, "maximum": 31536000},
                           "clean only: age in seconds")],
            errors={"400": "bad olderThanS", "404": "no such queue"})},
        "/api/jobs": {"get": _admin(
            "a job search, every filter optional: newest first within each queue (table order) and state; a page "
            "may hold fewer jobs than limit and still have a nextCursor (scan budget); pass the same filters",
            _json(_ref("JobsPage"), "a page"),
            params=[_query("queue", {"type": "string", "enum": queues}, "only this queue"),
                    _query("state", _ref("JobState"), "only this state"),
                    _query("actor", {"type": "string", "maxLength": 200}, "only this actor"),
                    _query("q", {"type": "string", "maxLength": 200},
                           "case-insensitive substring of the arguments (the encoded message) or the error"),
                    _query("since", {"type": "integer", "format": "int64", "minimum": 0, "maximum": 9999999999999999},
                           "enqueued at or after (ms since the epoch)"),
                    _query("until", {"type": "integer", "format": "int64", "minimum": 0, "maximum": 9999999999999999},
                           "enqueued at or before (ms since the epoch)"),
                    limit, cursor],
            errors={"400": "bad state, actor, q, since, until, limit or cursor (named in field)",
                    "404": "no such queue"})},
        "/api/jobs/{jobId}": {
            "get": _admin("everything about one job", _json(_ref("Job"), "the job"), params=[job_param],
                          errors=not_found),
            "delete": _mutation("remove a job that is not running", _json(_ref("JobSummary"), "removed"),
                                params=[job_param], errors={**not_found, "409": "the job is running"}),
        },
        "/api/jobs/{jobId}/retry": {"post": _mutation(
            "a failed or dead job back to waiting now", _json(_ref("JobSummary"), "the job"), params=[job_param],
            errors={**not_found, "409": "the job is not failed or dead"})},
        "/api/jobs/{jobId}/promote": {"post": _mutation(
            "a delayed job runs now", _json(_ref("JobSummary"), "the job"), params=[job_param],
            errors={**not_found, "409": "the job is not delayed"})},
        "/api/admin/dlq": {
            "get": _admin("dead letters, newest first (across queues, merged by time)", _json(
                _all(deadLetters={"type": "array", "items": _ref("DeadLetter")}, nextCursor=NSTR), "dead letters"),
                params=[queue_query, limit, cursor], errors={"400": "bad limit or cursor", "404": "no such queue"}),
            "delete": _mutation("drop the dead letters of a queue, or of every queue", _json(
                _all(purged=INT), "purged"), params=[queue_query], errors={"404": "no such queue"}),
        },
        "/api/admin/dlq/retry": {"post": _mutation(
            "dead letters back to waiting: one, a list, or all of a queue", _json(_all(retried=INT), "retried"),
            body=_ref("DlqRetryRequest"), errors={"400": "invalid body, naming the field", "404": "no such queue",
                                                 "413": "body over the size limit", "415": "not JSON"})},
        "/api/admin/schedules": {"get": _admin(
            "the recurring jobs with their last and next run",
            _json(_all(schedules={"type": "array", "items": _ref("Schedule")}), "schedules"))},
        "/api/admin/schedules/{name}/run": {"post": _mutation(
            "enqueue a schedule's job now", _json(_all(jobId=STR), "enqueued"), status="202",
            params=[_path("name", {"type": "string", "enum": schedules} if schedules else STR, "the schedule")],
            errors={"404": "no such schedule"})},
        "/api/admin/quotas": {"get": _admin(
            "each provider's daily budget: limit, used by kind of work, remaining, reset, the queued work's "
            "expected cost and a warning when queued recurring work will not fit before the reset",
            _json(_all(now=INT, providers={"type": "array", "items": {"type": "object"}}), "budgets"))},
        "/api/admin/sessions/revoke": {"post": _mutation(
            "sign out everywhere: every dashboard session ends", _json(_all(revoked=INT), "sessions ended"))},
        "/api/admin/imports": {"get": _admin(
            "imports, running ones first, then the most recent",
            _json(_all(imports={"type": "array", "items": _ref("AdminImport")}, nextCursor=NSTR), "imports"),
            params=[limit, cursor], errors={"400": "bad limit or cursor"})},
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "theset-daemon side server",
            "version": "1",
            "description": "Health, metrics, the import API and the admin API of one TheSet sync daemon. "
                           "Errors are JSON: {error: stable code, message, field?}. Admin times are ms since the epoch.",
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(queues),
            "securitySchemes": {
                "adminToken": {"type": "http", "scheme": "bearer", "description": "THESET_ADMIN_TOKEN"},
                "apiToken": {"type": "http", "scheme": "bearer", "description": "THESET_API_TOKEN"},
                "dashboardSession": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                                     "description": f"dashboard session; actions also send {CSRF_HEADER}"},
                "eventsToken": {"type": "apiKey", "in": "query", "name": "token",
                                "description": "the signed token of an eventsUrl"},
            },
        },
    }


async def openapi_json(request: web.Request) -> web.Response:
    """GET /api/openapi.json — public."""
    document = request.app.get(OPENAPI_DOCUMENT)
    if document is None:
        admin = request.app.get(QUEUE_ADMIN)
        queues = list(admin.broker.specs) if admin is not None else []
        schedules = [s.name for s in request.app.get(SCHEDULES, [])]
        document = build_document(queues, schedules)
    return json_response(document)

