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
its subscribers) and ``readers`` reader tasks, each owning one Redis connection.
A reader blocks on the change-notice stream ``{namespace}:progress-changes``
(every report appends its import's id there, in the transaction of its XADD:
one key, whatever the number of followed imports), then reads only the feeds
named there, from their cursors, with one non-blocking XREAD; a sweep over every
feed of its shard (every :data:`SWEEP_S` s, after an error, after a silent block)
catches what a lost notice would miss. N followed imports cost ``readers``
connections, and one entry read once reaches every fan of its import on this
daemon: framed once, then one ``transport.write`` per caught-up client from the
reader itself (:class:`Sink`; no task wake-up, no JSON, no drain), yielding the
loop every :data:`SLICE_S` s. A client whose socket has ``max_buffer`` bytes
queued is dropped with a ``reconnect`` hint (and cut after a grace if it reads
nothing); one keepalive task per hub writes the comments. A new feed wakes its
reader with ``CLIENT UNBLOCK``. The hub's Redis client (and the PostgreSQL pool
behind ``app[PROGRESS]``) belong to the SSE path alone: build the client with
:func:`reader_client`, never hand it the job path's client.

The HTTP handler is :mod:`theset_daemon.web.events`; ``web/app.py`` mounts it
with the hub (``redis = reader_client(settings)``, the SSE path's own
connections; ``ProgressHub(redis, namespace, readers=..., max_streams=...)``) and
a :class:`~.progress.ProgressReporter` on the SSE path's own PostgreSQL pool.

``await hub.close(reconnect_hint=True)`` (idempotent) ends every stream with
``reconnect``; the app closes the hub on shutdown, and a drain
may call it earlier. The Redis client's ``socket_timeout`` (if any) must exceed
``block_ms`` (the hub shortens its block to a second under that timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, AsyncIterator, Awaitable, Callable

import asyncpg
import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..broker import connection
from ..runtime.config import Settings
from ..runtime.log_throttle import ThrottledLog
from ..runtime.metrics import SSE_DELIVERY
from ..store.imports import FINAL_STATUSES
from .progress import changes_key, stream_key

logger = logging.getLogger(__name__)

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
#: Change notices one blocking read returns.
CHANGES_COUNT = 1000
#: Seconds between two reads of every followed import (what a lost change notice would miss arrives then).
SWEEP_S = 5.0
#: Redis readers per daemon (each one connection, following a shard of the imports).
READERS = 2
#: Open event streams per daemon before new ones get 503.
MAX_STREAMS = 10000
#: Connections of the SSE path's Redis client besides its readers (replays, snapshots positions, wake-ups).
CONTROL_CONNECTIONS = 4
#: Seconds a new stream waits for one of those connections before it is told to reconnect.
POOL_WAIT_S = 20
#: Seconds a reader writes to subscribers' sockets before it yields the loop (5,000 fans of one import).
SLICE_S = 0.004

#: The keepalive comment, plain and as an HTTP/1.1 chunk.
KEEPALIVE = b": keepalive\n\n"
KEEPALIVE_CHUNK = b"%x\r\n%s\r\n" % (len(KEEPALIVE), KEEPALIVE)


def sse_event(name: str, data: Any, *, event_id: str | None = None, retry_ms: int | None = None) -> bytes:
    """One server-sent event, framed (``retry:``, ``id:``, ``event:``, ``data:`` as JSON)."""
    lines = []
    if retry_ms is not None:
        lines.append(f"retry: {retry_ms}")
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"event: {name}")
    lines.append("data: " + orjson.dumps(data, default=str).decode())
    return ("\n".join(lines) + "\n\n").encode()



#: Failures of the stores behind a stream: the client is told to reconnect, not given a 500.
BACKEND_ERRORS = (RedisError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


def reader_client(settings: Settings, *, readers: int = READERS, socket_timeout: float | None = None) -> aioredis.Redis:
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
    def key(self) -> tuple[int, int]:
        """The id as (milliseconds, sequence), parsed once: what orders entries."""
        return _id_key(self.id)

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

    One ``transport.write`` per batch of events and client (no task wake-up, no JSON, no
    drain): what lets a daemon keep 5,000 fans of one import current. Frames are
    chunk-encoded when the response is (HTTP/1.1), exactly as aiohttp's own writer would.
    A client whose socket has more than ``max_buffer`` bytes queued is dropped
    (:meth:`drop`): its browser reconnects with its ``Last-Event-ID`` and misses nothing,
    and the daemon holds no unbounded backlog for it.

    Parameters:
      transport: the client's transport (``request.transport``), after the response's first write.
      chunked: the response uses chunked transfer encoding (``response.chunked``).
      max_buffer: bytes queued for the client beyond which it counts as fallen behind.
    """

    __slots__ = ("transport", "chunked", "max_buffer", "last_write")

    def __init__(self, transport: asyncio.Transport | None, *, chunked: bool, max_buffer: int) -> None:
        self.transport = transport
        self.chunked = chunked
        self.max_buffer = max_buffer
        self.last_write = asyncio.get_running_loop().time()

    def write_entry(self, entry: StreamEntry, now: float | None = None) -> bool:
        return self.send(entry.chunk if self.chunked else entry.frame, now)

    def write(self, data: bytes, *, framed: bool = False) -> bool:
        """Queue ``data`` (chunk-framed here unless ``framed``); False when the client is gone or too far behind."""
        return self.send(data if framed or not self.chunked else _chunk(data))

    def send(self, data: bytes, now: float | None = None) -> bool:
        """Queue ``data``, already framed for this response, at loop time ``now``; False as :meth:`write`."""
        transport = self.transport
        if transport is None or transport.is_closing() or transport.get_write_buffer_size() > self.max_buffer:
            return False
        transport.write(data)
        self.last_write = asyncio.get_running_loop().time() if now is None else now
        return True

    @property
    def gone(self) -> bool:
        """The client's connection is closed or closing."""
        return self.transport is None or self.transport.is_closing()

    def drop(self, reason: str, retry_ms: int, grace_s: float = 5.0) -> None:
        """Close a client that fell behind: a ``reconnect`` hint after its backlog, and an abort
        after ``grace_s`` seconds if it has not read that far by then."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        frame = sse_event("reconnect", {"reason": reason}, retry_ms=retry_ms)
        transport.write(_chunk(frame) if self.chunked else frame)
        transport.close()  # writes what is queued, then closes
        asyncio.get_running_loop().call_later(grace_s, _abort, transport)


async def _wake_all(subs: list[Subscription], chunk: int = 64) -> None:
    """Wake the handlers of ``subs`` ``chunk`` at a time, the loop serving others in between
    (5,000 handlers ending at once would queue 5,000 steps ahead of everything else)."""
    for n, sub in enumerate(subs, 1):
        sub._wake()
        if n % chunk == 0:
            await asyncio.sleep(0)


def _abort(transport: asyncio.BaseTransport) -> None:
    with contextlib.suppress(Exception):
        transport.abort()


class _Batch:
    """The entries of one feed from one read, up to its final one: framed once for all its fans."""

    __slots__ = ("entries", "first", "last", "final", "frame", "_chunk")

    def __init__(self, entries: list[StreamEntry]) -> None:
        for n, entry in enumerate(entries):
            if entry.final:
                entries = entries[: n + 1]  # nothing follows the done event
                break
        self.entries = entries
        self.first, self.last = entries[0].key, entries[-1].key
        self.final = entries[-1].final
        self.frame = entries[0].frame if len(entries) == 1 else b"".join(e.frame for e in entries)
        self._chunk: bytes | None = None

    @property
    def chunk(self) -> bytes:
        if self._chunk is None:
            self._chunk = _chunk(self.frame)
        return self._chunk


def _field(fields: dict[Any, Any] | list[Any], name: str) -> Any:
    """A field of a stream entry, as redis-py's reply callback (a dict) or the raw reply (a flat list) holds it."""
    if isinstance(fields, dict):
        return fields.get(name.encode(), fields.get(name))
    for n in range(0, len(fields) - 1, 2):
        if _text(fields[n]) == name:
            return fields[n + 1]
    return None


def _decode(entry_id: bytes | str, fields: dict[Any, Any] | list[Any]) -> StreamEntry | None:
    raw = _field(fields, "data")
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


def _raw_streams(reply: Any) -> Any:
    """(stream key, raw entries) pairs of an XREAD reply (RESP2 list or RESP3 dict)."""
    return reply.items() if isinstance(reply, dict) else (reply or ())


def _streams(reply: Any) -> list[tuple[str, list[StreamEntry]]]:
    """(stream key, entries) of an XREAD reply (RESP2 list or RESP3 dict)."""
    return [(_text(key), _entries(entries)) for key, entries in _raw_streams(reply)]


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
                    self.end(ConnectionResetError("the client went away") if self.sink.gone else Reconnect("behind"))
                elif entry.final:
                    self.finished = True
                    self._wake()
            return
        if len(self.live) >= self.queue_size:
            self.end(Reconnect("behind"))
            return
        self.live.append(entry)
        self._wake()

    def deliver(self, batch: _Batch, now: float, woken: list[Subscription] | None = None) -> bool:
        """Deliver a feed's batch; True when it went out as one write (a caught-up client's usual case).

        False when this client is finished, ended, not caught up yet or its socket was refused
        (the entries are then pushed one by one, or the client dropped). With ``woken``, a
        client that got its final entry is appended there instead of woken (the caller wakes
        them after its fan-out: their handlers' teardown does not delay the other fans)."""
        sink = self.sink
        if sink is None or batch.first <= self.last or self.ended is not None or self.finished:
            for entry in batch.entries:
                self.push(entry)
            return False
        self.last = batch.last
        if not sink.send(batch.chunk if sink.chunked else batch.frame, now):
            self.end(ConnectionResetError("the client went away") if sink.gone else Reconnect("behind"))
            return False
        if batch.final:
            self.finished = True
            if woken is None:
                self._wake()
            else:
                woken.append(self)
        return True

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

    async def finished_within(self, timeout: float | None) -> bool:
        """In sink mode: True once the final entry went out, False after ``timeout`` seconds
        (None: no limit) without it.

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


def _bulk(value: bytes) -> bytes:
    """One RESP bulk string."""
    return b"$%d\r\n%s\r\n" % (len(value), value)


@dataclass(eq=False)
class _Feed:
    """One followed import on this daemon: where its stream has been read to, and who follows it."""

    key: str
    cursor: str
    subscribers: set[Subscription] = field(default_factory=set)
    key_arg: bytes = b""
    _cursor_arg: tuple[str, bytes] = ("", b"")

    def __post_init__(self) -> None:
        self.key_arg = _bulk(self.key.encode())

    @property
    def cursor_arg(self) -> bytes:
        """The cursor as a RESP bulk string, re-encoded only when it moved."""
        cursor, arg = self._cursor_arg
        if cursor != self.cursor:
            self._cursor_arg = (self.cursor, arg := _bulk(self.cursor.encode()))
        return arg


def _command(*args: bytes) -> bytes:
    """A command packed as RESP."""
    return b"".join([b"*%d\r\n" % len(args), *map(_bulk, args)])


def xread_command(feeds: list[_Feed], count: int, block_ms: int | None) -> bytes:
    """``XREAD COUNT count [BLOCK block_ms] STREAMS <keys> <cursors>``, packed as RESP.

    Each feed keeps its key and cursor encoded between reads, so a read over 1,000 imports
    costs a join, not 2,000 encodes (redis-py's ``pack_command``: 2-4 ms for 500 imports).
    """
    head = (b"XREAD", b"COUNT", b"%d" % count, *((b"BLOCK", b"%d" % block_ms) if block_ms is not None else ()),
            b"STREAMS")
    return b"".join([b"*%d\r\n" % (len(head) + 2 * len(feeds)), *map(_bulk, head),
                     *[f.key_arg for f in feeds], *[f.cursor_arg for f in feeds]])


class _Reader:
    """One Redis connection following every feed of its shard.

    It blocks on the changes stream (one key, whatever the number of feeds: every report
    appends its import's id there), then reads only the feeds named there, from their
    cursors, without blocking. A feed that joins is read at once (its XREAD interrupts the
    block with ``CLIENT UNBLOCK``); every :data:`SWEEP_S` seconds, after an error and
    after a silent block, one read covers every feed: what a lost or trimmed change
    notice would have missed arrives then.
    """

    def __init__(self, hub: ProgressHub, index: int) -> None:
        self.hub = hub
        self.index = index
        self.feeds: dict[str, _Feed] = {}
        self.fresh: dict[str, _Feed] = {}  # joined since their first read
        self.task: asyncio.Task[None] | None = None
        self.client_id: int | None = None
        self.generation = 0  # bumped when a feed joins
        self.reading: int | None = None  # the generation a blocking read in flight was issued at
        self.changes_cursor: str | None = None  # None: unknown, sweep first
        self.sweep_at = 0.0
        self._changed = asyncio.Event()

    def add(self, feed: _Feed) -> None:
        self.feeds[feed.key] = self.fresh[feed.key] = feed
        self.generation += 1
        self._changed.set()
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name=f"progress-reader-{self.index}")
        elif self.reading is not None:
            self.hub._spawn(self._wake(self.generation))

    def remove(self, feed: _Feed) -> None:
        self.feeds.pop(feed.key, None)  # it leaves the next read; no need to interrupt this one
        self.fresh.pop(feed.key, None)

    async def _wake(self, generation: int) -> None:
        """Interrupt the blocking read in flight until one follows ``generation``'s feeds (bounded tries)."""
        for _ in range(50):
            if self.reading is None or self.reading >= generation or self.client_id is None:
                return
            try:
                if await self.hub.redis.client_unblock(self.client_id):
                    return
            except (RedisError, OSError):
                return  # the reader meets the same outage; its block bounds the delay anyway
            await asyncio.sleep(0.002)  # the read is not at the server yet

    async def _run(self) -> None:
        pool = self.hub.redis.connection_pool
        conn = await pool.get_connection()
        try:
            while not self.hub.closing:
                if not self.feeds:
                    self._changed.clear()
                    await self._changed.wait()
                    continue
                try:
                    await self._step(conn)
                except (RedisError, OSError) as exc:
                    self.client_id, self.changes_cursor = None, None  # a new connection; sweep after it
                    with contextlib.suppress(Exception):
                        await conn.disconnect(nowait=True)
                    self.hub.errors.warning(f"read:{type(exc).__name__}", "progress streams unreadable, retrying: %s: %s",
                                            type(exc).__name__, exc)
                    await asyncio.sleep(READ_RETRY_S * (0.5 + random.random()))
        finally:
            with contextlib.suppress(Exception):
                await conn.disconnect(nowait=True)  # a cancelled read leaves the connection mid-reply
            with contextlib.suppress(Exception):
                await pool.release(conn)

    async def _step(self, conn: Any) -> None:
        """One read: a sweep when due, else the fresh feeds, else the changes (blocking), then their feeds."""
        if self.client_id is None:
            self.client_id = int(await self._call(conn, _command(b"CLIENT", b"ID")))
        changes = self.hub.changes_key
        if self.changes_cursor is None or time.monotonic() >= self.sweep_at:
            # The position first: whatever is appended after it is noticed, whatever before it swept.
            newest = await self._call(conn, _command(b"XREVRANGE", changes.encode(), b"+", b"-", b"COUNT", b"1"))
            self.changes_cursor = _text(newest[0][0]) if newest else "0-0"
            self.sweep_at = time.monotonic() + SWEEP_S
            self.fresh.clear()
            await self._read_feeds(conn, list(self.feeds.values()))
            return
        if self.fresh:
            fresh = list(self.fresh.values())
            self.fresh.clear()
            await self._read_feeds(conn, fresh)
            return
        self.reading = self.generation
        try:
            reply = await self._call(conn, _command(b"XREAD", b"COUNT", b"%d" % CHANGES_COUNT, b"BLOCK",
                                                    b"%d" % self.hub.block_ms, b"STREAMS", changes.encode(),
                                                    self.changes_cursor.encode()))
        finally:
            self.reading = None
        if not reply:
            if not self.fresh:
                self.sweep_at = 0.0  # a silent block: sweep (cheap when idle), in case a notice was lost
            return
        named: dict[str, _Feed] = {}
        for _, entries in _raw_streams(reply):
            for entry_id, fields in entries:
                self.changes_cursor = _text(entry_id)
                import_id = _field(fields, "i")
                feed = self.feeds.get(stream_key(self.hub.namespace, _text(import_id))) if import_id else None
                if feed is not None:
                    named[feed.key] = feed
        if named:
            await self._read_feeds(conn, list(named.values()))

    async def _read_feeds(self, conn: Any, feeds: list[_Feed]) -> None:
        """Read ``feeds`` from their cursors without blocking and deliver; again for any that filled a read."""
        while feeds:
            reply = await self._call(conn, xread_command(feeds, READ_COUNT, None))
            if not reply:
                return
            streams = _streams(reply)
            await self._deliver(streams)
            full = {key for key, entries in streams if len(entries) >= READ_COUNT}
            feeds = [f for f in feeds if f.key in full and self.feeds.get(f.key) is f]

    async def _call(self, conn: Any, command: bytes) -> Any:
        await conn.send_packed_command(command, check_health=False)
        return await conn.read_response()

    async def _deliver(self, streams: list[tuple[str, list[StreamEntry]]]) -> None:
        """Hand each feed's new entries to its subscribers: one frame per feed, one write per caught-up
        client, yielding the loop every :data:`SLICE_S` seconds of writing (5,000 fans of one import)."""
        loop = asyncio.get_running_loop()
        budget = time.monotonic() + SLICE_S
        for key, entries in streams:
            feed = self.feeds.get(key)
            if feed is None or not entries:
                continue  # its last follower left while we read
            feed.cursor = entries[-1].id
            batch = _Batch(entries)
            now, finished = loop.time(), []
            for n, sub in enumerate(list(feed.subscribers), 1):
                sub.deliver(batch, now, finished)
                if n % 64 == 0 and time.monotonic() > budget:
                    await asyncio.sleep(0)  # let the loop serve others before writing on
                    budget, now = time.monotonic() + SLICE_S, loop.time()
            SSE_DELIVERY.observe(max(0.0, time.time() - batch.last[0] / 1000))
            if finished:  # their handlers end the responses once every fan has the done event
                self.hub._spawn(_wake_all(finished))

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
      max_buffer: bytes queued on a caught-up client's socket (beyond what the kernel holds)
        before it is dropped with a reconnect hint (default ``queue_size`` × 2 KiB).
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
        max_buffer: int | None = None,
    ) -> None:
        self.redis = redis
        self.namespace = namespace
        self.changes_key = changes_key(namespace)
        self.heartbeat_s = heartbeat_s
        self.retry_ms = retry_ms
        # A block as long as the client's socket timeout (redis-py 8.1 defaults it to 5 s) would
        # end in "Timeout reading" and a dropped connection on every idle stream: stay a second under.
        socket_timeout = _socket_timeout(redis)
        if socket_timeout:
            block_ms = min(block_ms, max(100, int(socket_timeout * 1000) - 1000))
        self.block_ms = block_ms
        self.queue_size = queue_size
        self.max_buffer = queue_size * 2048 if max_buffer is None else max_buffer
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
        self._beating = False

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

    def _beat_soon(self) -> None:
        """Start the keepalive task (one for every stream of this hub) unless it runs."""
        if not self._beating:
            self._beating = True
            self._spawn(self._beat())

    async def _beat(self) -> None:
        """Every quarter of ``heartbeat_s``, a keepalive comment to each caught-up client silent that long."""
        loop = asyncio.get_running_loop()
        while not self.closing:
            await asyncio.sleep(self.heartbeat_s / 4)
            now, budget = loop.time(), time.monotonic() + SLICE_S
            for feed in list(self._feeds.values()):
                for sub in list(feed.subscribers):
                    sink = sub.sink
                    if sink is None or sub.finished or sub.ended is not None or now - sink.last_write < self.heartbeat_s:
                        continue
                    if not sink.send(KEEPALIVE_CHUNK if sink.chunked else KEEPALIVE, now):
                        sub.end(ConnectionResetError("the client went away") if sink.gone else Reconnect("behind"))
                if time.monotonic() > budget:
                    await asyncio.sleep(0)
                    now, budget = loop.time(), time.monotonic() + SLICE_S

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
        self._beat_soon()
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
