"""``GET /api/imports/{import_id}/events``: an import's progress as server-sent events.

The protocol (snapshot, progress, done, keepalive, reconnect), the token and the
fan-out are described in :mod:`theset_daemon.imports.stream`, whose
:class:`~theset_daemon.imports.stream.ProgressHub` (``app[HUB]``) and
:class:`~theset_daemon.imports.progress.ProgressReporter` (``app[PROGRESS]``) this
handler reads; ``web/app.py`` mounts the route and closes the hub on shutdown.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from aiohttp import web

from ..imports.progress import ProgressReporter, is_uuid
from ..imports.signing import InvalidToken, verify_events_token
from ..imports.stream import BACKEND_ERRORS, ProgressHub, Reconnect, Sink, Subscription, jittered_ms, sse_event
from ..runtime.metrics import SSE_CLIENTS
from ..store.imports import FINAL_STATUSES
from .errors import error_body, json_response
from .keys import HUB, PROGRESS, SETTINGS

#: A Redis Stream entry id, as ``Last-Event-ID`` may carry it.
_LAST_ID = re.compile(r"^\d{1,20}(-\d{1,20})?$")


def _requested_after(request: web.Request) -> str | None:
    """The client's Last-Event-ID (header first, then ``lastEventId``), if it is a stream id."""
    value = (request.headers.get("Last-Event-ID") or request.query.get("lastEventId") or "").strip()
    valid = _LAST_ID.fullmatch(value) and all(int(part) < 2**64 for part in value.split("-"))
    return value if valid else None  # the value used is exactly the one validated


async def _follow(
    request: web.Request, response: web.StreamResponse, sub: Subscription, snapshot: dict[str, Any], hub: ProgressHub
) -> None:
    """Write entries until the done event; keepalives while idle.

    The replay (and whatever queued meanwhile) is written here; once caught up, the
    reader writes each live entry to the socket itself (:class:`Sink`), the hub's one
    keepalive task the comments, and this task only waits for the final entry (no timer
    of its own). A client that falls behind there is dropped with a reconnect hint.
    """
    if snapshot["status"] in FINAL_STATUSES:  # finished: send what the replay holds, then done
        for entry in sub.backlog():
            await response.write(entry.frame)
            if entry.final:
                return
        await response.write(sse_event("done", snapshot))
        return
    while (entry := sub.take()) is not None:
        await response.write(entry.frame)
        if entry.final:
            return
    sink = Sink(request.transport, chunked=response.chunked, max_buffer=hub.max_buffer)
    sub.attach(sink)  # from here the reader writes the events and the hub the keepalives
    try:
        await sub.finished_within(None)
    except Reconnect as exc:
        if exc.reason != "behind":
            raise
        sink.drop("behind", hub.retry_hint_ms())  # no drain to wait for: the hint follows its backlog
        raise ConnectionResetError("dropped: too far behind") from None


def _stream_response() -> web.StreamResponse:
    return web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


def _busy(hub: ProgressHub) -> web.Response:
    retry_after = str(max(1, round(jittered_ms(hub.retry_ms, 2.0) / 1000)))
    body = error_body(503, f"this daemon already serves {hub.max_streams} event streams; retry later or elsewhere",
                      code="too_many_streams")
    return json_response(body, status=503, headers={"Retry-After": retry_after})


async def import_events(request: web.Request) -> web.StreamResponse:
    """``GET /api/imports/{import_id}/events``: the import's progress as server-sent events."""
    import_id = request.match_info["import_id"]
    try:
        verify_events_token(request.app[SETTINGS].sse_secrets, request.query.get("token", ""), import_id)
    except InvalidToken as exc:
        return json_response(error_body(401, exc.message, code="invalid_token", reason=exc.reason), status=401)
    except ValueError:  # no THESET_SSE_SECRET: no token can be valid
        return json_response(error_body(401, "import events are off (no THESET_SSE_SECRET)", code="invalid_token",
                                        reason="forged"), status=401)
    hub, reporter = request.app.get(HUB), request.app.get(PROGRESS)
    if hub is None or reporter is None:
        body = error_body(503, "import events are not available until the daemon has booted")
        return json_response(body, status=503, headers={"Retry-After": "1"})
    if not is_uuid(import_id):
        return json_response(error_body(404, f"no import {import_id}"), status=404)
    if not hub.admit():
        return _busy(hub)
    try:
        return await _serve(request, hub, reporter, import_id)
    finally:
        hub.release()


async def _serve(request: web.Request, hub: ProgressHub, reporter: ProgressReporter, import_id: str) -> web.StreamResponse:
    response = _stream_response()
    if request.version >= (1, 1):
        response.enable_chunked_encoding()  # what aiohttp would choose; said explicitly, the Sink frames alike
    try:
        requested = _requested_after(request)
        if requested is None:
            after, snapshot = await hub.position_and_snapshot(import_id, reporter.snapshot)
        else:
            after, snapshot = requested, await reporter.snapshot(import_id)
        if snapshot is None:
            return json_response(error_body(404, f"no import {import_id}"), status=404)
        async with hub.subscribe(import_id, after) as sub:
            await response.prepare(request)
            SSE_CLIENTS.inc()
            try:
                await response.write(sse_event("snapshot", snapshot, event_id=after, retry_ms=hub.retry_hint_ms()))
                await _follow(request, response, sub, snapshot, hub)
            finally:
                SSE_CLIENTS.dec()
    except Reconnect as exc:
        await _send_reconnect(request, response, exc.reason, hub)
    except EOFError:
        pass
    except ConnectionResetError:  # the client went away (aiohttp's ClientConnectionResetError is one)
        return response
    except BACKEND_ERRORS as exc:
        # Redis or PostgreSQL away: the browser retries after the hint (a 5xx would end its EventSource).
        hub.errors.warning(f"serve:{type(exc).__name__}", "import events interrupted: %s: %s", type(exc).__name__, exc)
        await _send_reconnect(request, response, "unavailable", hub)
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response


async def _send_reconnect(request: web.Request, response: web.StreamResponse, reason: str, hub: ProgressHub) -> None:
    with contextlib.suppress(ConnectionResetError):
        if not response.prepared:
            await response.prepare(request)
        await response.write(sse_event("reconnect", {"reason": reason}, retry_ms=hub.retry_hint_ms()))


async def close_hub(app: web.Application) -> None:
    """``on_shutdown`` hook: every SSE client gets ``reconnect`` and its stream ends."""
    hub = app.get(HUB)
    if hub is not None:
        await hub.close(reconnect_hint=True)

