"""Import progress as server-sent events, fed by a few shared Redis readers per daemon.

``GET /api/imports/{import_id}/events?token=...`` (token from
:func:`theset_daemon.imports.signing.sign_events_token`) answers ``text/event-stream``:

* ``retry: <ms>`` (jittered per client) then ``event: snapshot`` — the import's
  row from PostgreSQL, its ``id:`` the stream position the replay starts after;
* every stream entry after ``Last-Event-ID`` (header, or ``lastEventId`` query
  parameter; absent: the stream's end when the snapshot was read), then live
  entries — ``event: progress`` or, for completed/failed, ``event: done`` after
  which the response ends; ``id:`` is the Redis Stream entry id;
* ``: keepalive`` comments every ``heartbeat_s`` of silence;
* ``event: reconnect`` (with a jittered ``retry:``) when the daemon shuts down,
  when the client falls too far behind or when Redis/PostgreSQL is away; the
  browser then reconnects, to this or any other host, with its
  ``Last-Event-ID``, and misses nothing.

Errors are JSON: 401 ``invalid_token`` (forged, expired, malformed, another
import's, with a ``reason``), 404 ``not_found`` (unknown import), 503
``unavailable`` while ``app[HUB]`` or ``app[PROGRESS]`` is not set yet, 503
``too_many_streams`` with a jittered ``Retry-After`` when the daemon already
serves ``max_streams`` streams.

Fan-out: :class:`ProgressHub` keeps one feed per followed import (a cursor and
its subscribers) and ``readers`` reader tasks; each reader owns one Redis
connection and follows all the feeds of its shard with one ``XREAD BLOCK``
over every stream key, so N followed imports cost ``readers`` connections, and
one entry read once reaches every fan of its import on this daemon. A new
feed wakes its reader with ``CLIENT UNBLOCK``. The hub's Redis client (and the
PostgreSQL pool behind ``app[PROGRESS]``) belong to the SSE path alone: build
the client with :func:`reader_client`, never hand it the job path's client.

Wiring (the app factory, before the app is frozen)::

    app[SETTINGS] = settings                       # web.keys.SETTINGS: sse_secret
    redis = reader_client(settings)                # the SSE path's own connections
    app[PROGRESS] = ProgressReporter(sse_pool, redis, settings.redis_namespace)
    app[HUB] = ProgressHub(redis, settings.redis_namespace, readers=..., max_streams=...)
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
import random
import re
import zlib
from collections import deque
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, AsyncIterator, Awaitable, Callable

import asyncpg
import orjson
import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError

from ..broker import connection
from ..runtime.log_throttle import ThrottledLog
from ..runtime.metrics import SSE_CLIENTS
from ..store.imports import FINAL_STATUSES
from ..web.errors import error_body, json_response
from ..web.keys import SETTINGS
from .progress import ProgressReporter, is_uuid, stream_key
from .signing import InvalidToken, sign_events_token, verify_events_token

logger = logging.getLogger(__name__)

ROUTE = "/api/imports/{import_id}/events"
#: Seconds of silence before a ``: keepalive`` comment.
HEARTBEAT_S = 15.0
#: Milliseconds a client waits before reconnecting (the ``retry:`` field), before jitter.
RETRY_MS = 2000
#: Share of ``retry_ms`` added at random to each hint, so a crowd does not come back at once.
RETRY_JITTER = 0.5
#: Milliseconds one XREAD blocks before it is reissued.
BLOCK_MS = 5000
#: Entries buffered per client before it is told to reconnect.
QUEUE_SIZE = 1000
#: Seconds a reader waits after a Redis error before reading again (before jitter).
READ_RETRY_S = 1.0
#: Entries one XREAD returns per stream.
READ_COUNT = 100
#: Redis readers per daemon (each one connection, following a shard of the imports).
READERS = 2
#: Open event streams per daemon before new ones get 503.
MAX_STREAMS = 10000
#: Connections of the SSE path's Redis client besides its readers (replays, snapshots positions, wake-ups).
CONTROL_CONNECTIONS = 4
#: Seconds a new stream waits for one of those connections before it is told to reconnect.
POOL_WAIT_S = 20
#: Subscribers woken per entry before the reader yields the loop (5,000 fans of one import).
FANOUT_CHUNK = 500

_LAST_ID = re.compile(r"^\d{1,20}(-\d{1,20})?$")


#: Failures of the stores behind a stream: the client is told to reconnect, not given a 500.
BACKEND_ERRORS = (RedisError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


def reader_client(settings: Any, *, readers: int = READERS, socket_timeout: float | None = None) -> aioredis.Redis:
    """The SSE path's own Redis client: ``readers`` + :data:`CONTROL_CONNECTIONS` connections at most.

    A blocking pool: a burst of new streams waits for a connection (then fails as
    ``unavailable``, a reconnect hint) instead of opening more. Built by the shared
    factory (:func:`~theset_daemon.broker.connection.async_client`), so TLS, the ACL
    user, Sentinel and the timeouts hold here as on every other client.
    """
    if socket_timeout is None:  # room for a whole XREAD block (BLOCK_MS), plus the usual call timeout
        socket_timeout = BLOCK_MS / 1000 + settings.redis_target.timeout_s
    return connection.async_client(
        settings.redis_target, max_connections=readers + CONTROL_CONNECTIONS, pool_wait_s=POOL_WAIT_S,
        client_name=f"{settings.redis_namespace}:sse",  # CLIENT LIST shows the SSE path's connections
        socket_timeout=socket_timeout,
    )


def jittered_ms(base_ms: int, jitter: float = RETRY_JITTER) -> int:
    """``base_ms`` plus up to ``jitter`` of it, at random."""
    return int(base_ms * (1 + random.random() * jitter))


class Reconnect(Exception):
    """The client must reconnect: ``reason`` is ``shutdown``, ``behind`` or ``unavailable``."""

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
    """One entry of an import's progress stream: its id and the event's JSON, as stored."""

    id: str
    raw: bytes
    data: dict[str, Any] = field(compare=False)

    @property
    def final(self) -> bool:
        """True for the completed/failed event that ends the import's stream."""
        return self.data.get("status") in FINAL_STATUSES

    @property
    def name(self) -> str:
        return "done" if self.final else "progress"

    @cached_property
    def frame(self) -> bytes:
        """The entry as one SSE event, encoded once for every client."""
        return b"id: %s\nevent: %s\ndata: %s\n\n" % (self.id.encode(), self.name.encode(), self.raw)

    @cached_property
    def chunk(self) -> bytes:
        """:attr:`frame` as one HTTP/1.1 chunk (what aiohttp's chunked writer would send)."""
        return _chunk(self.frame)

    @classmethod
    def of(cls, entry_id: str, data: dict[str, Any]) -> StreamEntry:
        return cls(entry_id, orjson.dumps(data), data)


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class Sink:
    """Writes a caught-up client's events straight to its socket, from the reader's fan-out.

    One ``transport.write`` per event and client (no task wake-up, no JSON): what lets a
    daemon keep 5,000 fans of one import current. Frames are chunk-encoded when the
    response is (HTTP/1.1), exactly as aiohttp's own writer would.

    Parameters:
      transport: the client's transport (``request.transport``), after the response's first write.
      chunked: the response uses chunked transfer encoding (``response.chunked``).
      max_buffer: bytes queued for the client beyond which it counts as fallen behind.
    """

    def __init__(self, transport: asyncio.Transport | None, *, chunked: bool, max_buffer: int) -> None:
        self.transport = transport
        self.chunked = chunked
        self.max_buffer = max_buffer
        self.last_write = asyncio.get_running_loop().time()

    def write_entry(self, entry: StreamEntry) -> bool:
        return self.write(entry.chunk if self.chunked else entry.frame, framed=True)

    def write(self, data: bytes, *, framed: bool = False) -> bool:
        """Queue ``data`` on the socket; False when the client is gone or too far behind."""
        transport = self.transport
        if transport is None or transport.is_closing() or transport.get_write_buffer_size() > self.max_buffer:
            return False
        transport.write(data if framed or not self.chunked else _chunk(data))
        self.last_write = asyncio.get_running_loop().time()
        return True


def _decode(entry_id: bytes | str, fields: dict[Any, Any]) -> StreamEntry | None:
    raw = fields.get(b"data", fields.get("data"))
    try:
        raw = raw.encode() if isinstance(raw, str) else raw
        data = orjson.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return StreamEntry(_text(entry_id), raw, data)
    except (TypeError, ValueError, AttributeError) as exc:
        logger.warning("unreadable progress entry %s: %s", _text(entry_id), exc)
        return None


def _entries(reply: Any) -> list[StreamEntry]:
    """The readable entries of an XRANGE reply."""
    return [e for entry_id, fields in reply or () if (e := _decode(entry_id, fields)) is not None]


def _streams(reply: Any) -> list[tuple[str, list[StreamEntry]]]:
    """(stream key, entries) of an XREAD reply (RESP2 list or RESP3 dict)."""
    items = reply.items() if isinstance(reply, dict) else (reply or ())
    return [(_text(key), _entries(entries)) for key, entries in items]


class Subscription:
    """One client's view of an import: replayed entries, then live ones, ids strictly increasing."""

    def __init__(self, after: str, queue_size: int) -> None:
        self.live: deque[StreamEntry] = deque()
        self.pending: deque[StreamEntry] = deque()
        self.queue_size = queue_size
        self.last = _id_key(after)
        self.ended: BaseException | None = None
        self.sink: Sink | None = None
        self.finished = False  # the final entry went out through the sink
        self._waiter: asyncio.Future[None] | None = None

    def attach(self, sink: Sink) -> None:
        """From now on write live entries straight to ``sink`` (call when nothing is left to take)."""
        assert not self.pending and not self.live, "attach only once caught up"
        self.sink = sink

    def push(self, entry: StreamEntry) -> None:
        """Deliver a live entry; a client that fell ``queue_size`` behind is told to reconnect."""
        if self.ended is not None or self.finished:
            return
        if self.sink is not None:
            if self._fresh(entry):
                if not self.sink.write_entry(entry):
                    self.end(Reconnect("behind"))
                elif entry.final:
                    self.finished = True
                    self._wake()
            return
        if len(self.live) >= self.queue_size:
            self.end(Reconnect("behind"))
            return
        self.live.append(entry)
        self._wake()

    def end(self, reason: BaseException) -> None:
        """Make the next :meth:`next` raise ``reason`` (before any entry still buffered)."""
        self.ended = reason
        self.live.clear()
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _fresh(self, entry: StreamEntry) -> bool:
        key = _id_key(entry.id)
        if key <= self.last:
            return False  # seen in the replay already
        self.last = key
        return True

    def take(self) -> StreamEntry | None:
        """The next fresh entry already here (replayed or queued), without waiting; None when caught up."""
        while self.pending or self.live:
            entry = self.pending.popleft() if self.pending else self.live.popleft()
            if self._fresh(entry):
                return entry
        return None

    async def finished_within(self, timeout: float) -> bool:
        """In sink mode: True once the final entry went out, False after ``timeout`` seconds without it.

        Raises:
          Reconnect / EOFError: as :meth:`next`.
        """
        if self.ended is not None:
            raise self.ended
        if self.finished:
            return True
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(self._waiter, timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            self._waiter = None
        if self.ended is not None:
            raise self.ended
        return self.finished

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
            elif self.live:
                entry = self.live.popleft()
            else:
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await asyncio.wait_for(self._waiter, timeout)
                except asyncio.TimeoutError:
                    return None
                finally:
                    self._waiter = None
                continue
            if self._fresh(entry):
                return entry


@dataclass(eq=False)
class _Feed:
    """One followed import on this daemon: where its stream has been read to, and who follows it."""

    key: str
    cursor: str
    subscribers: set[Subscription] = field(default_factory=set)


class _Reader:
    """One Redis connection following every feed of its shard with a single XREAD BLOCK."""

    def __init__(self, hub: ProgressHub, index: int) -> None:
        self.hub = hub
        self.index = index
        self.feeds: dict[str, _Feed] = {}
        self.task: asyncio.Task[None] | None = None
        self.client_id: int | None = None
        self.generation = 0  # bumped when a feed joins
        self.reading: int | None = None  # the generation an XREAD in flight was built from
        self._changed = asyncio.Event()

    def add(self, feed: _Feed) -> None:
        self.feeds[feed.key] = feed
        self.generation += 1
        self._changed.set()
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name=f"progress-reader-{self.index}")
        elif self.reading is not None:
            self.hub._spawn(self._wake(self.generation))

    def remove(self, feed: _Feed) -> None:
        self.feeds.pop(feed.key, None)  # its key leaves the next XREAD; no need to interrupt this one

    async def _wake(self, generation: int) -> None:
        """Interrupt the XREAD in flight until one includes ``generation``'s feeds (bounded tries)."""
        for _ in range(50):
            if self.reading is None or self.reading >= generation or self.client_id is None:
                return
            try:
                if await self.hub.redis.client_unblock(self.client_id):
                    return
            except (RedisError, OSError):
                return  # the reader meets the same outage; its block bounds the delay anyway
            await asyncio.sleep(0.002)  # the XREAD is not at the server yet

    async def _run(self) -> None:
        conn = aioredis.Redis(connection_pool=self.hub.redis.connection_pool, single_connection_client=True)
        try:
            while not self.hub.closing:
                if not self.feeds:
                    self._changed.clear()
                    await self._changed.wait()
                    continue
                reply = await self._read(conn)
                if reply:
                    await self._deliver(reply)
        finally:
            with contextlib.suppress(Exception):
                await conn.aclose()

    async def _read(self, conn: aioredis.Redis) -> Any:
        try:
            if self.client_id is None:
                self.client_id = await conn.client_id()
            streams = {key: feed.cursor for key, feed in self.feeds.items()}
            self.reading = self.generation
            try:
                return await conn.xread(streams, count=READ_COUNT, block=self.hub.block_ms)
            finally:
                self.reading = None
        except (RedisError, OSError) as exc:
            self.client_id = None  # a new connection will have a new id
            self.hub.errors.warning(
                f"read:{type(exc).__name__}", "progress streams unreadable, retrying: %s: %s", type(exc).__name__, exc
            )
            await asyncio.sleep(READ_RETRY_S * (0.5 + random.random()))
            return None

    async def _deliver(self, reply: Any) -> None:
        woken = 0
        for key, entries in _streams(reply):
            feed = self.feeds.get(key)
            if feed is None:
                continue  # its last follower left while we read
            for entry in entries:
                feed.cursor = entry.id
                for sub in list(feed.subscribers):
                    sub.push(entry)
                    woken += 1
                    if woken % FANOUT_CHUNK == 0:
                        await asyncio.sleep(0)  # let the woken clients write before waking more

    def stop(self) -> None:
        """Stop the reader without waiting (the closing flag ends it; the cancel breaks its XREAD)."""
        self._changed.set()
        if self.task is not None:
            self.task.cancel()


class ProgressHub:
    """Fan every followed import's progress stream out to this daemon's SSE clients.

    One feed per import with at least one subscriber (created by the first,
    dropped when the last leaves), read by one of ``readers`` reader tasks, each
    with its own Redis connection and one XREAD over all its feeds. A new
    subscriber replays from its own position with XRANGE and joins the live
    feed without gap or duplicate.

    Parameters:
      redis: the SSE path's own async Redis client (see :func:`reader_client`);
        it needs ``readers`` connections for the readers plus a few for replays.
      namespace: the daemon's Redis key namespace.
      heartbeat_s: seconds of silence before a keepalive comment (default 15).
      retry_ms: the clients' reconnect delay before jitter, in milliseconds (default 2000).
      block_ms: milliseconds one XREAD blocks (default 5000).
      queue_size: live entries buffered per client before it must reconnect.
      readers: reader tasks (Redis connections) following the imports.
      max_streams: open streams this daemon serves; :meth:`admit` refuses more.
      error_log_interval_s: seconds between two log lines about the same backend error.
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
        readers: int = READERS,
        max_streams: int = MAX_STREAMS,
        error_log_interval_s: float = 60.0,
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
        self.max_buffer = queue_size * 2048  # bytes queued on a client's socket before it counts as behind
        self.max_streams = max_streams
        self.streams = 0
        self.closing = False
        self.errors = ThrottledLog(logger, error_log_interval_s)
        self._readers = [_Reader(self, i) for i in range(max(1, readers))]
        self._feeds: dict[str, _Feed] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._positions = _Coalesced()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def readers(self) -> int:
        """Imports followed on this daemon (each read once, whatever its number of fans)."""
        return len(self._feeds)

    @property
    def connections(self) -> int:
        """Reader tasks running (each holds one Redis connection), at most ``readers``."""
        return sum(1 for r in self._readers if r.task is not None and not r.task.done())

    @property
    def clients(self) -> int:
        """Subscribers connected, over all imports."""
        return sum(len(feed.subscribers) for feed in self._feeds.values())

    def admit(self) -> bool:
        """Count a new stream in; False (count unchanged) when ``max_streams`` are open already."""
        if self.streams >= self.max_streams:
            return False
        self.streams += 1
        return True

    def release(self) -> None:
        """Count a stream out (one :meth:`admit` that returned True)."""
        self.streams -= 1

    def retry_hint_ms(self) -> int:
        """The ``retry:`` value for one client: ``retry_ms`` plus jitter."""
        return jittered_ms(self.retry_ms)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def last_id(self, import_id: str) -> str:
        """The id of the import's newest stream entry, ``"0-0"`` if none."""
        newest = await self.redis.xrevrange(stream_key(self.namespace, import_id), count=1)
        return _text(newest[0][0]) if newest else "0-0"

    async def position_and_snapshot(
        self, import_id: str, snapshot: Callable[[str], Awaitable[dict[str, Any] | None]]
    ) -> tuple[str, dict[str, Any] | None]:
        """The stream's newest id, then the import's snapshot, read once for every client that asks at once."""

        async def read() -> tuple[str, dict[str, Any] | None]:
            position = await self.last_id(import_id)
            return position, await snapshot(import_id)

        return await self._positions.get(import_id, read)

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
        feed = self._feeds.get(import_id)
        if feed is not None and _id_key(feed.cursor) >= _id_key(after):
            # The import is followed already and its reader is at or past us: join without a round
            # trip when level with it (5,000 fans of one import cost no Redis call each), else read the gap.
            feed = self._join(import_id, key, sub, feed.cursor)
            gap_to = feed.cursor
            try:
                if _id_key(gap_to) > _id_key(after):
                    sub.pending.extend(_entries(await self.redis.xrange(key, min=f"({after}", max=gap_to)))
                yield sub
            finally:
                self._leave(import_id, sub)
            return
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
            self._leave(import_id, sub)

    def _reader_of(self, import_id: str) -> _Reader:
        return self._readers[zlib.crc32(import_id.encode()) % len(self._readers)]

    def _join(self, import_id: str, key: str, sub: Subscription, position: str) -> _Feed:
        feed = self._feeds.get(import_id)
        if feed is None:
            feed = self._feeds[import_id] = _Feed(key, position)
            feed.subscribers.add(sub)
            self._reader_of(import_id).add(feed)
        else:
            feed.subscribers.add(sub)
        self._idle.clear()
        return feed

    def _leave(self, import_id: str, sub: Subscription) -> None:
        feed = self._feeds.get(import_id)
        if feed is None:
            return
        feed.subscribers.discard(sub)
        if not feed.subscribers:
            del self._feeds[import_id]
            self._reader_of(import_id).remove(feed)
            if not self._feeds:
                self._idle.set()

    async def close(self, *, reconnect_hint: bool = True, timeout: float = 5.0) -> None:
        """End every subscription (``reconnect`` event if ``reconnect_hint``), wait up to
        ``timeout`` seconds for the clients to go, then stop the readers. Idempotent."""
        self.closing = True
        for feed in list(self._feeds.values()):
            for sub in feed.subscribers:
                sub.end(Reconnect("shutdown") if reconnect_hint else EOFError())
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)
        tasks = {r.task for r in self._readers if r.task is not None} | self._tasks
        deadline = asyncio.get_running_loop().time() + timeout
        while any(not t.done() for t in tasks) and asyncio.get_running_loop().time() < deadline:
            for reader in self._readers:
                reader.stop()  # again: redis-py can swallow a cancel that lands mid-send
            for task in self._tasks:
                task.cancel()
            await asyncio.wait([t for t in tasks if not t.done()], timeout=0.02)


class _Coalesced:
    """Concurrent reads of one key share one call, started after every one of them asked."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[Any]] = {}
        self._running: set[asyncio.Future[None]] = set()

    async def get(self, key: str, read: Callable[[], Awaitable[Any]]) -> Any:
        future = self._waiting.get(key)
        if future is None:
            future = self._waiting[key] = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(self._start, key, future, read)
        return await asyncio.shield(future)

    def _start(self, key: str, future: asyncio.Future[Any], read: Callable[[], Awaitable[Any]]) -> None:
        self._waiting.pop(key, None)  # who asks from now on gets a read of their own: nothing stale

        async def run() -> None:
            try:
                result = await read()
            except BaseException as exc:  # noqa: BLE001 - handed to every waiter
                if not future.done():
                    future.set_exception(exc)
                    future.exception()  # retrieved: no "never retrieved" warning if all waiters left
                return
            if not future.done():
                future.set_result(result)

        task = asyncio.ensure_future(run())
        self._running.add(task)
        task.add_done_callback(self._running.discard)


def _socket_timeout(redis: Any) -> float | None:
    """The socket timeout (seconds) of the client's connections, None if unknown or unset."""
    try:
        pool = redis.connection_pool
        return pool.connection_class(**pool.connection_kwargs).socket_timeout
    except Exception:  # noqa: BLE001 - a stand-in client in tests, an unusual pool
        return None


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


async def _follow(
    request: web.Request, response: web.StreamResponse, sub: Subscription, snapshot: dict[str, Any], hub: ProgressHub
) -> None:
    """Write entries until the done event; keepalives while idle.

    The replay (and whatever queued meanwhile) is written here; once caught up, the
    reader writes each live entry to the socket itself (:class:`Sink`) and this task
    only waits for the final one, sending keepalives while the stream is silent.
    """
    if snapshot["status"] in FINAL_STATUSES:  # finished: send what the replay holds, then done
        for entry in sub.backlog():
            await response.write(entry.frame)
            if entry.final:
                return
        await response.write(_event("done", snapshot))
        return
    while (entry := sub.take()) is not None:
        await response.write(entry.frame)
        if entry.final:
            return
    sink = Sink(request.transport, chunked=response.chunked, max_buffer=hub.max_buffer)
    sub.attach(sink)
    loop = asyncio.get_running_loop()
    while not await sub.finished_within(max(0.01, sink.last_write + hub.heartbeat_s - loop.time())):
        if loop.time() - sink.last_write >= hub.heartbeat_s and not sink.write(b": keepalive\n\n"):
            raise ConnectionResetError("the client went away")


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
                await response.write(_event("snapshot", snapshot, event_id=after, retry_ms=hub.retry_hint_ms()))
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
        await response.write(_event("reconnect", {"reason": reason}, retry_ms=hub.retry_hint_ms()))


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
