"""Import progress as server-sent events, fed by one Redis reader per import.

``GET /api/imports/{import_id}/events?token=...`` (token from
:func:`theset_daemon.signing.sign_events_token`) answers ``text/event-stream``:

* ``retry: <ms>`` then ``event: snapshot`` — the import's row from PostgreSQL,
  its ``id:`` the stream position the replay starts after;
* every stream entry after ``Last-Event-ID`` (header, or ``lastEventId`` query
  parameter; absent: the stream's end when the snapshot was read), then live
  entries — ``event: progress`` or, for completed/failed, ``event: done`` after
  which the response ends; ``id:`` is the Redis Stream entry id;
* ``: keepalive`` comments every ``heartbeat_s`` of silence;
* ``event: reconnect`` (with a ``retry:``) when the daemon shuts down, or when
  the client falls too far behind; the browser then reconnects, to this or any
  other host, with its ``Last-Event-ID``, and misses nothing.

Errors are JSON: 401 ``invalid_token`` (forged, expired, malformed, another
import's, with a ``reason``), 404 ``not_found`` (unknown import), 503
``unavailable`` while ``app[HUB]`` or ``app[PROGRESS]`` is not set yet.

Wiring (the app factory, before the app is frozen)::

    app[SETTINGS] = settings                       # web.keys.SETTINGS: sse_secret
    app[PROGRESS] = ProgressReporter(pool, redis, settings.redis_namespace)
    app[HUB] = ProgressHub(redis, settings.redis_namespace)
    add_routes(app)                                # the route + on_shutdown hub.close()

``await hub.close(reconnect_hint=True)`` (idempotent) ends every stream with
``reconnect``; :func:`add_routes` registers it on ``on_shutdown``, and a drain
may call it earlier. The Redis client's ``socket_timeout`` (if any) must exceed
``block_ms`` (the hub shortens its block to a second under that timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

import asyncpg
import orjson
import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError

from .metrics import SSE_CLIENTS
from .progress import FINAL_STATUSES, ProgressEvent, ProgressReporter, is_uuid, stream_key
from .signing import InvalidToken, sign_events_token, verify_events_token
from .web.errors import error_body, json_response
from .web.keys import SETTINGS

logger = logging.getLogger(__name__)

ROUTE = "/api/imports/{import_id}/events"
#: Seconds of silence before a ``: keepalive`` comment.
HEARTBEAT_S = 15.0
#: Milliseconds a client waits before reconnecting (the ``retry:`` field).
RETRY_MS = 2000
#: Milliseconds one XREAD blocks before it is reissued.
BLOCK_MS = 5000
#: Entries buffered per client before it is told to reconnect.
QUEUE_SIZE = 1000
#: Seconds the reader waits after a Redis error before reading again.
READ_RETRY_S = 1.0

_LAST_ID = re.compile(r"^\d{1,20}(-\d{1,20})?$")


#: Failures of the stores behind a stream: the client is told to reconnect, not given a 500.
BACKEND_ERRORS = (RedisError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


class Reconnect(Exception):
    """The client must reconnect: ``reason`` is ``shutdown`` (the hub is closing) or ``behind``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class StreamEntry:
    """One entry of an import's progress stream."""

    id: str
    event: ProgressEvent


def _decode(entry_id: bytes | str, fields: dict[Any, Any]) -> StreamEntry | None:
    data = fields.get(b"data", fields.get("data"))
    try:
        return StreamEntry(_text(entry_id), ProgressEvent.from_json(data))
    except (TypeError, ValueError) as exc:
        logger.warning("unreadable progress entry %s: %s", _text(entry_id), exc)
        return None


def _entries(reply: Any) -> list[StreamEntry]:
    """The readable entries of an XRANGE reply."""
    return [e for entry_id, fields in reply or () if (e := _decode(entry_id, fields)) is not None]


def _read_entries(reply: Any) -> list[StreamEntry]:
    """The readable entries of a one-key XREAD reply (RESP2 list or RESP3 dict)."""
    streams = reply.values() if isinstance(reply, dict) else (entries for _, entries in reply or ())
    return [entry for entries in streams for entry in _entries(entries)]


class Subscription:
    """One client's view of an import: replayed entries, then live ones, ids strictly increasing."""

    def __init__(self, after: str, queue_size: int) -> None:
        self.queue: asyncio.Queue[StreamEntry | None] = asyncio.Queue(queue_size)
        self.pending: deque[StreamEntry] = deque()
        self.last = _id_key(after)
        self.ended: BaseException | None = None

    def push(self, entry: StreamEntry) -> None:
        """Deliver a live entry; a client that fell ``queue_size`` behind is told to reconnect."""
        try:
            self.queue.put_nowait(entry)
        except asyncio.QueueFull:
            self.end(Reconnect("behind"))

    def end(self, reason: BaseException) -> None:
        """Make the next :meth:`next` raise ``reason`` (before any entry still buffered)."""
        self.ended = reason
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)  # wake a waiting next()

    def _fresh(self, entry: StreamEntry) -> bool:
        key = _id_key(entry.id)
        if key <= self.last:
            return False  # seen in the replay already
        self.last = key
        return True

    def backlog(self) -> list[StreamEntry]:
        """The replayed entries not yet taken."""
        entries = [e for e in self.pending if self._fresh(e)]
        self.pending.clear()
        return entries

    async def next(self, timeout: float) -> StreamEntry | None:
        """The next entry, or None after ``timeout`` seconds without one.

        Raises:
          Reconnect: the hub is closing (with a reconnect hint) or this client fell behind.
          EOFError: the hub closed without a reconnect hint.
        """
        while True:
            if self.ended is not None:
                raise self.ended
            if self.pending:
                entry = self.pending.popleft()
            else:
                try:
                    entry = await asyncio.wait_for(self.queue.get(), timeout)
                except asyncio.TimeoutError:
                    return None
            if entry is not None and self._fresh(entry):
                return entry


@dataclass
class _Feed:
    key: str
    cursor: str
    subscribers: set[Subscription] = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    stopped: bool = False


class ProgressHub:
    """Fan an import's progress stream out to this daemon's SSE clients.

    One XREAD BLOCK task per import with at least one subscriber: started by
    the first, cancelled when the last leaves. A new subscriber replays from its
    own position with XRANGE and joins the live feed without gap or duplicate.

    Parameters:
      redis: the async Redis client (any ``decode_responses`` setting).
      namespace: the daemon's Redis key namespace.
      heartbeat_s: seconds of silence before a keepalive comment (default 15).
      retry_ms: the clients' reconnect delay, in milliseconds (default 2000).
      block_ms: milliseconds one XREAD blocks (default 5000).
      queue_size: live entries buffered per client before it must reconnect.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        namespace: str,
        *,
        heartbeat_s: float = HEARTBEAT_S,
        retry_ms: int = RETRY_MS,
        block_ms: int = BLOCK_MS,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.redis = redis
        self.namespace = namespace
        self.heartbeat_s = heartbeat_s
        self.retry_ms = retry_ms
        # A block as long as the client's socket timeout (redis-py 8.1 defaults it to 5 s) would
        # end in "Timeout reading" and a dropped connection on every idle stream: stay a second under.
        socket_timeout = _socket_timeout(redis)
        if socket_timeout:
            block_ms = min(block_ms, max(100, int(socket_timeout * 1000) - 1000))
        self.block_ms = block_ms
        self.queue_size = queue_size
        self.closing = False
        self._feeds: dict[str, _Feed] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def readers(self) -> int:
        """Redis readers of this hub (one per import with subscribers)."""
        return sum(1 for feed in self._feeds.values() if not feed.stopped)

    @property
    def clients(self) -> int:
        """Subscribers connected, over all imports."""
        return sum(len(feed.subscribers) for feed in self._feeds.values())

    async def last_id(self, import_id: str) -> str:
        """The id of the import's newest stream entry, ``"0-0"`` if none."""
        newest = await self.redis.xrevrange(stream_key(self.namespace, import_id), count=1)
        return _text(newest[0][0]) if newest else "0-0"

    @contextlib.asynccontextmanager
    async def subscribe(self, import_id: str, after: str = "0-0") -> AsyncIterator[Subscription]:
        """Follow the import's entries after stream id ``after``, replay first.

        Raises:
          Reconnect: the hub is closing.
        """
        if self.closing:
            raise Reconnect("shutdown")
        key = stream_key(self.namespace, import_id)
        sub = Subscription(after, self.queue_size)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xrange(key, min=f"({after}")
            pipe.xrevrange(key, count=1)
            replay, newest = await pipe.execute()
        sub.pending.extend(_entries(replay))
        position = _text(newest[0][0]) if newest else after
        if self.closing:
            raise Reconnect("shutdown")
        feed = self._join(import_id, key, sub, position)
        try:
            if _id_key(feed.cursor) > _id_key(position):  # the reader is past our replay: fill the gap
                sub.pending.extend(_entries(await self.redis.xrange(key, min=f"({position}", max=feed.cursor)))
            yield sub
        finally:
            await self._leave(import_id, sub)

    def _join(self, import_id: str, key: str, sub: Subscription, position: str) -> _Feed:
        feed = self._feeds.get(import_id)
        if feed is None:
            feed = self._feeds[import_id] = _Feed(key, position)
            feed.task = asyncio.create_task(self._read(feed), name=f"progress-reader:{import_id}")
            self._tasks.add(feed.task)
            feed.task.add_done_callback(self._tasks.discard)
        feed.subscribers.add(sub)
        self._idle.clear()
        return feed

    async def _leave(self, import_id: str, sub: Subscription) -> None:
        feed = self._feeds.get(import_id)
        if feed is None:
            return
        feed.subscribers.discard(sub)
        if not feed.subscribers:
            del self._feeds[import_id]
            if not self._feeds:
                self._idle.set()
            _stop(feed)

    async def _read(self, feed: _Feed) -> None:
        """Read the stream from ``feed.cursor`` and hand every entry to every subscriber."""
        while not feed.stopped:
            try:
                reply = await self.redis.xread({feed.key: feed.cursor}, count=100, block=self.block_ms)
            except (RedisError, OSError) as exc:
                logger.warning("progress stream %s unreadable, retrying: %s", feed.key, exc)
                await asyncio.sleep(READ_RETRY_S)
                continue
            if feed.stopped:
                return
            for entry in _read_entries(reply):
                feed.cursor = entry.id
                for sub in list(feed.subscribers):
                    sub.push(entry)

    async def close(self, *, reconnect_hint: bool = True, timeout: float = 5.0) -> None:
        """End every subscription (``reconnect`` event if ``reconnect_hint``), wait up to
        ``timeout`` seconds for the clients to go, then stop the readers. Idempotent."""
        self.closing = True
        for feed in list(self._feeds.values()):
            for sub in feed.subscribers:
                sub.end(Reconnect("shutdown") if reconnect_hint else EOFError())
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)
        for feed in self._feeds.values():
            _stop(feed)
        deadline = asyncio.get_running_loop().time() + timeout
        while self._tasks and asyncio.get_running_loop().time() < deadline:
            for task in self._tasks:
                task.cancel()  # again: an earlier cancel may have been swallowed (see _stop)
            await asyncio.wait(set(self._tasks), timeout=0.02)


def _socket_timeout(redis: Any) -> float | None:
    """The socket timeout (seconds) of the client's connections, None if unknown or unset."""
    try:
        pool = redis.connection_pool
        return pool.connection_class(**pool.connection_kwargs).socket_timeout
    except Exception:  # noqa: BLE001 - a stand-in client in tests, an unusual pool
        return None


def _stop(feed: _Feed) -> None:
    """Stop a feed's reader without waiting for it.

    The flag is what ends it: redis-py 8.1 can swallow a cancellation that
    lands while a command is being sent, leaving the XREAD to run out its block.
    """
    feed.stopped = True
    if feed.task is not None:
        feed.task.cancel()


# --- the HTTP surface ---------------------------------------------------------------------

HUB = web.AppKey("progress_hub", ProgressHub)
PROGRESS = web.AppKey("progress_reporter", ProgressReporter)


def _event(name: str, data: Any, *, event_id: str | None = None, retry_ms: int | None = None) -> bytes:
    lines = []
    if retry_ms is not None:
        lines.append(f"retry: {retry_ms}")
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"event: {name}")
    lines.append("data: " + orjson.dumps(data, default=str).decode())
    return ("\n".join(lines) + "\n\n").encode()


def _requested_after(request: web.Request) -> str | None:
    """The client's Last-Event-ID (header first, then ``lastEventId``), if it is a stream id."""
    value = (request.headers.get("Last-Event-ID") or request.query.get("lastEventId") or "").strip()
    valid = _LAST_ID.fullmatch(value) and all(int(part) < 2**64 for part in value.split("-"))
    return value if valid else None  # the value used is exactly the one validated


async def _follow(response: web.StreamResponse, sub: Subscription, snapshot: dict[str, Any], hub: ProgressHub) -> None:
    """Write entries until the done event; keepalives while idle."""
    if snapshot["status"] in FINAL_STATUSES:  # finished: send what the replay holds, then done
        entries = sub.backlog()
        for entry in entries:
            await response.write(_event("done" if entry.event.final else "progress", entry.event, event_id=entry.id))
            if entry.event.final:
                return
        await response.write(_event("done", snapshot))
        return
    while True:
        entry = await sub.next(hub.heartbeat_s)
        if entry is None:
            await response.write(b": keepalive\n\n")
            continue
        await response.write(_event("done" if entry.event.final else "progress", entry.event, event_id=entry.id))
        if entry.event.final:
            return


def _stream_response() -> web.StreamResponse:
    return web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


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
    response = _stream_response()
    try:
        after = _requested_after(request) or await hub.last_id(import_id)
        snapshot = await reporter.snapshot(import_id)
        if snapshot is None:
            return json_response(error_body(404, f"no import {import_id}"), status=404)
        async with hub.subscribe(import_id, after) as sub:
            await response.prepare(request)
            SSE_CLIENTS.inc()
            try:
                await response.write(_event("snapshot", snapshot, event_id=after, retry_ms=hub.retry_ms))
                await _follow(response, sub, snapshot, hub)
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
        logger.warning("import events interrupted: %s: %s", type(exc).__name__, exc)
        await _send_reconnect(request, response, "unavailable", hub)
    await response.write_eof()
    return response


async def _send_reconnect(request: web.Request, response: web.StreamResponse, reason: str, hub: ProgressHub) -> None:
    if not response.prepared:
        await response.prepare(request)
    await response.write(_event("reconnect", {"reason": reason}, retry_ms=hub.retry_ms))


async def close_hub(app: web.Application) -> None:
    """``on_shutdown`` hook: every SSE client gets ``reconnect`` and its stream ends."""
    hub = app.get(HUB)
    if hub is not None:
        await hub.close(reconnect_hint=True)


def add_routes(app: web.Application) -> None:
    """Mount the events route and close the hub on shutdown (``app[HUB]`` set by the caller)."""
    app.router.add_get(ROUTE, import_events, allow_head=False)
    app.on_shutdown.append(close_hub)


def events_url(public_url: str, secret: str, import_id: str, *, ttl_s: float, now: float | None = None) -> str:
    """The signed SSE URL of an import, as the kickoff answers it (``public_url`` without trailing ``/``)."""
    token = sign_events_token(secret, import_id, ttl_s=ttl_s, now=now)
    return f"{public_url.rstrip('/')}{ROUTE.format(import_id=import_id)}?token={token}"
